package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Limits bounds what one rule may cost, so that a single route can exhaust
// neither the memory of the compiled matcher nor the CPU time spent on each
// event. Zero fields mean the defaults below; negative fields are invalid.
type Limits struct {
	// MaxRuleBytes bounds the JSON size of match and of filters, each.
	MaxRuleBytes int
	// MaxDepth bounds how deeply match nests objects and filters nest
	// all/any/not.
	MaxDepth int
	// MaxValues bounds the values in one rule: every exact value and every
	// operator operand in match, every attribute and expression in filters.
	MaxValues int
	// MaxAlternatives bounds the combinations that $or expands into: a rule
	// with two $or of three alternatives each is nine combinations.
	MaxAlternatives int
	// MaxWildcards bounds the '*' characters in one wildcard operand; each
	// one multiplies the work of matching a long value.
	MaxWildcards int
	// MaxOperandBytes bounds the length of one string operand (a value,
	// prefix, wildcard, SQL expression...).
	MaxOperandBytes int
}

// Defaults for zero Limits fields.
const (
	DefaultMaxRuleBytes    = 16 << 10
	DefaultMaxDepth        = 10
	DefaultMaxValues       = 256
	DefaultMaxAlternatives = 64
	DefaultMaxWildcards    = 8
	DefaultMaxOperandBytes = 1024
)

// WithDefaults returns the limits with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxRuleBytes, DefaultMaxRuleBytes)
	def(&l.MaxDepth, DefaultMaxDepth)
	def(&l.MaxValues, DefaultMaxValues)
	def(&l.MaxAlternatives, DefaultMaxAlternatives)
	def(&l.MaxWildcards, DefaultMaxWildcards)
	def(&l.MaxOperandBytes, DefaultMaxOperandBytes)
	return l
}

// Validate reports negative fields.
func (l Limits) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxRuleBytes", l.MaxRuleBytes},
		{"MaxDepth", l.MaxDepth},
		{"MaxValues", l.MaxValues},
		{"MaxAlternatives", l.MaxAlternatives},
		{"MaxWildcards", l.MaxWildcards},
		{"MaxOperandBytes", l.MaxOperandBytes},
	} {
		if f.v < 0 {
			return fmt.Errorf("router limits: %s is %d; use a positive number, or 0 for the default", f.name, f.v)
		}
	}
	return nil
}

// Rule is what one route selects: an EventBridge-style pattern (Match) and/or
// CloudEvents Subscriptions API filters (Filters). An event is selected when
// it matches the pattern and passes every filter; an empty (or JSON null)
// Match or Filters selects every event.
type Rule struct {
	Match   json.RawMessage `json:"match,omitempty"`
	Filters json.RawMessage `json:"filters,omitempty"`
}

// Validate parses the rule without compiling it into a matcher. Every
// problem is a *spec.FieldError whose path starts with "match" or "filters", for
// example "match.data.plan[0].prefix" or "filters[1].sql"; several problems
// are joined with errors.Join.
func (r Rule) Validate(lim Limits) error {
	_, err := parseRule(r, lim)
	return err
}

// parsedRule is a rule after validation: its pattern expanded into
// alternatives and its filters ready to evaluate.
type parsedRule struct {
	// clauses are the alternatives of the pattern: the rule's pattern
	// matches when every field test of at least one clause holds. An empty
	// pattern is one clause without tests.
	clauses [][]*fieldTest
	// filters must all hold as well.
	filters []*filter
}

func parseRule(r Rule, lim Limits) (*parsedRule, error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	lim = lim.WithDefaults()
	pr := &parsedRule{clauses: [][]*fieldTest{nil}}
	var errs []error
	if !isEmptyJSON(r.Match) {
		clauses, perrs := parsePattern(r.Match, lim)
		errs = append(errs, perrs...)
		pr.clauses = clauses
	}
	if !isEmptyJSON(r.Filters) {
		filters, ferrs := parseFilters(r.Filters, lim)
		errs = append(errs, ferrs...)
		pr.filters = filters
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return pr, nil
}

// isEmptyJSON reports whether a rule part is absent: no bytes, or null.
func isEmptyJSON(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}
