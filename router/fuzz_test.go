package router

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzValidate feeds arbitrary bytes to the pattern and filter parsers: they
// must return an error or a rule that compiles, and never panic or hang.
func FuzzValidate(f *testing.F) {
	for _, tc := range allMatchCases() {
		f.Add([]byte(tc.pattern), []byte(nil))
	}
	for _, tc := range filterCases {
		f.Add([]byte(nil), []byte(tc.filters))
	}
	f.Fuzz(func(t *testing.T, match, filters []byte) {
		rule := Rule{Match: match, Filters: filters}
		err := rule.Validate(Limits{})
		_, merr := NewMatcher(map[string]Rule{"r": rule}, Limits{})
		if (err == nil) != (merr == nil) {
			t.Fatalf("Validate said %v but NewMatcher said %v", err, merr)
		}
	})
}

// FuzzMatch runs arbitrary patterns against arbitrary events: Match must
// not panic or hang, and must agree with Explain, which evaluates the rule
// directly without the matcher's indexes.
func FuzzMatch(f *testing.F) {
	for _, tc := range allMatchCases() {
		f.Add([]byte(tc.pattern), []byte(tc.event))
	}
	f.Fuzz(func(t *testing.T, pattern, doc []byte) {
		rule := Rule{Match: pattern}
		m, err := NewMatcher(map[string]Rule{"r": rule}, Limits{})
		if err != nil {
			return
		}
		e, err := ParseEventJSON(doc)
		if err != nil {
			return
		}
		matched := slices.Equal(m.Match(e), []string{"r"})
		ex, err := Explain(rule, e)
		if err != nil {
			t.Fatalf("Explain refused a rule NewMatcher accepted: %v", err)
		}
		if ex.Matched != matched {
			t.Fatalf("Match says %v, Explain says %+v", matched, ex)
		}
		if _, err := json.Marshal(ex); err != nil {
			t.Fatal(err)
		}
	})
}

func allMatchCases() []matchCase {
	var all []matchCase
	for _, cases := range [][]matchCase{exactCases, prefixCases, existsCases, suffixCases, ignoreCaseCases, wildcardCases, anythingButCases, numericCases, cidrCases, orCases} {
		all = append(all, cases...)
	}
	return all
}
