package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/eventbus-go/eventbus/spec"
	"github.com/eventbus-go/eventbus/transform"
)

// Explanation says why one rule does or does not select one event, for a
// human testing a pattern.
type Explanation struct {
	Matched bool `json:"matched"`
	// Reason names, for a non-match, the field and condition that failed
	// first, e.g. `data.plan: "free" does not match {"prefix":"pro"}`; for
	// a match, a short summary.
	Reason string `json:"reason"`
	// Held lists, for a match, the conditions that held.
	Held []string `json:"held,omitempty"`
}

// Explain evaluates one rule against one event, one condition at a time, in
// the order the rule lists them. It validates the rule with the default
// Limits and returns the validation error of an invalid rule. Explain is
// for people; Matcher is for traffic.
func Explain(r Rule, e *Event) (Explanation, error) {
	pr, err := parseRule(r, Limits{})
	if err != nil {
		return Explanation{}, err
	}
	var best clauseResult
	for i, clause := range pr.clauses {
		res := explainClause(clause, e)
		if res.failed == "" {
			return explainFilters(pr, res.held, e), nil
		}
		if i == 0 || len(res.held) > len(best.held) {
			best = res
		}
	}
	reason := best.failed
	if len(pr.clauses) > 1 {
		reason = fmt.Sprintf("none of the %d $or combinations matched; the closest fails at %s", len(pr.clauses), reason)
	}
	return Explanation{Reason: reason}, nil
}

// TestPattern validates rule and explains how it treats the event document:
// what `eventbus test-pattern` and POST /v1/test-pattern answer. Bad input
// is a *spec.FieldError naming "match…", "filters…" or "event".
func TestPattern(rule Rule, eventDoc []byte) (Explanation, error) {
	if err := rule.Validate(Limits{}); err != nil {
		return Explanation{}, err
	}
	if len(bytes.TrimSpace(eventDoc)) == 0 {
		return Explanation{}, &spec.FieldError{Path: "event", Message: "is required: the event as JSON, attributes at the top level and the payload under data"}
	}
	ev, err := ParseEventJSON(eventDoc)
	if err != nil {
		return Explanation{}, &spec.FieldError{Path: "event", Message: err.Error()}
	}
	return Explain(rule, ev)
}

// explainFilters continues an explanation whose pattern matched with the
// filters, in order.
func explainFilters(pr *parsedRule, held []string, e *Event) Explanation {
	for _, f := range pr.filters {
		ok, why := f.holds(e)
		if !ok {
			return Explanation{Reason: why}
		}
		held = append(held, fmt.Sprintf("%s: %s holds", f.path, f.text))
	}
	if len(held) == 0 {
		return Explanation{Matched: true, Reason: "the rule is empty, so it matches every event"}
	}
	return Explanation{
		Matched: true,
		Reason:  fmt.Sprintf("all %d conditions of the rule held", len(held)),
		Held:    held,
	}
}

type clauseResult struct {
	held   []string
	failed string // empty when every test held
}

func explainClause(clause []*fieldTest, e *Event) clauseResult {
	var res clauseResult
	for _, ft := range clause {
		values := fieldValues(e, ft.path)
		if v, ok := ft.holds(values); ok {
			res.held = append(res.held, fmt.Sprintf("%s: %s matches %s", ft.name, v, ft.text))
			continue
		}
		if len(values) == 0 {
			res.failed = fmt.Sprintf("%s: the field is missing, so it does not match %s", ft.name, ft.text)
		} else {
			res.failed = fmt.Sprintf("%s: %s does not match %s", ft.name, describeValues(values), ft.text)
		}
		return res
	}
	return res
}

// holds evaluates a field test on the values found at its path and, when it
// holds, describes the value that made it hold.
func (ft *fieldTest) holds(values []any) (string, bool) {
	if len(values) == 0 {
		return "missing", ft.absentOK
	}
	for _, v := range values {
		for i := range ft.tests {
			if ft.tests[i].matches(v) {
				return describeValue(v), true
			}
		}
	}
	return "", false
}

// fieldValues returns the leaf values of e at path, with arrays flattened,
// the same way Matcher walks an event.
func fieldValues(e *Event, path []string) []any {
	top, ok := e.value(path[0])
	if !ok {
		return nil
	}
	var out []any
	var walk func(v any, rest []string)
	walk = func(v any, rest []string) {
		switch v := v.(type) {
		case []any:
			for _, elem := range v {
				walk(elem, rest)
			}
		case map[string]any:
			if len(rest) > 0 {
				if cv, ok := v[rest[0]]; ok {
					walk(cv, rest[1:])
				}
			}
		default:
			if len(rest) == 0 {
				out = append(out, v)
			}
		}
	}
	walk(top, path[1:])
	return out
}

func describeValues(values []any) string {
	if len(values) == 1 {
		return describeValue(values[0])
	}
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = describeValue(v)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func describeValue(v any) string {
	switch v := v.(type) {
	case opaque:
		return "(data that is not JSON)"
	case string:
		return quoteJSON(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// TransformResult is what a route's transform makes of one event: the
// event to deliver, or dropped, or the error the bus would dead-letter it
// with.
type TransformResult struct {
	Event   json.RawMessage `json:"event,omitempty"`
	Dropped bool            `json:"dropped,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// TryTransform runs a route's transform on an event doc, for
// POST /v1/test-pattern and eventbus test-pattern. A program that
// does not compile, or an event that is not a whole CloudEvent, is an
// error naming the field.
func TryTransform(ctx context.Context, program string, eventDoc []byte) (*TransformResult, error) {
	out, err := transform.Try(ctx, program, eventDoc)
	var runErr *transform.Error
	switch {
	case errors.As(err, &runErr):
		return &TransformResult{Error: runErr.Error()}, nil
	case err != nil:
		var syntax *transform.SyntaxError
		if errors.As(err, &syntax) {
			return nil, &spec.FieldError{Path: "transform", Message: err.Error()}
		}
		return nil, &spec.FieldError{Path: "event", Message: err.Error()}
	case out == nil:
		return &TransformResult{Dropped: true}, nil
	}
	return &TransformResult{Event: out}, nil
}
