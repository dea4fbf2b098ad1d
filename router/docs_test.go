package router

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// docExample is one rule-example block of docs/rules.md.
type docExample struct {
	line           int
	rule           Rule
	selects, skips []string
}

// TestRulesDocExamples checks every example of docs/rules.md against the
// matcher and Explain, so that the documentation cannot drift from the
// code, and checks that every operator and dialect has an example.
func TestRulesDocExamples(t *testing.T) {
	examples := readDocExamples(t, "../docs/rules.md")
	if len(examples) == 0 {
		t.Fatal("docs/rules.md has no rule-example blocks")
	}
	var allRules strings.Builder
	for _, ex := range examples {
		allRules.WriteString(string(ex.rule.Match) + string(ex.rule.Filters))
		if err := ex.rule.Validate(Limits{}); err != nil {
			t.Errorf("docs/rules.md:%d: the example's rule is invalid: %v", ex.line, err)
			continue
		}
		m, err := NewMatcher(map[string]Rule{"example": ex.rule}, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []struct {
			events []string
			match  bool
		}{{ex.selects, true}, {ex.skips, false}} {
			for _, doc := range want.events {
				e, err := ParseEventJSON([]byte(doc))
				if err != nil {
					t.Errorf("docs/rules.md:%d: event %s: %v", ex.line, doc, err)
					continue
				}
				if got := slices.Equal(m.Match(e), []string{"example"}); got != want.match {
					t.Errorf("docs/rules.md:%d: rule %s %s on %s: matched %v, the example says %v", ex.line, ex.rule.Match, ex.rule.Filters, doc, got, want.match)
				}
				if exp, _ := Explain(ex.rule, e); exp.Matched != want.match {
					t.Errorf("docs/rules.md:%d: Explain on %s: %+v, the example says matched=%v", ex.line, doc, exp, want.match)
				}
			}
		}
	}
	for _, op := range []string{`"prefix"`, `"suffix"`, `"equals-ignore-case"`, `"wildcard"`, `"anything-but"`, `"numeric"`, `"exists"`, `"cidr"`, `"$or"`, `null`, `""`,
		`"exact"`, `"all"`, `"any"`, `"not"`, `"sql"`} {
		if !strings.Contains(allRules.String(), op) {
			t.Errorf("docs/rules.md has no example using %s", op)
		}
	}
}

func readDocExamples(t *testing.T, path string) []docExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docExample
	var cur *docExample
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "```rule-example":
			cur = &docExample{line: n}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			key, value, ok := strings.Cut(line, ":")
			value = strings.TrimSpace(value)
			if !ok || !json.Valid([]byte(value)) {
				t.Fatalf("%s:%d: want `key: JSON`, got %q", path, n, line)
			}
			switch key {
			case "match":
				cur.rule.Match = json.RawMessage(value)
			case "filters":
				cur.rule.Filters = json.RawMessage(value)
			case "selects":
				cur.selects = append(cur.selects, value)
			case "skips":
				cur.skips = append(cur.skips, value)
			default:
				t.Fatalf("%s:%d: unknown key %q; use match, filters, selects or skips", path, n, key)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
