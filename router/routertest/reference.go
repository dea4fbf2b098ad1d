// Package routertest holds a reference evaluator for the rule language of
// package router: a direct reading of docs/rules.md that checks one rule at
// a time against a decoded event, with no indexes and no compilation. It is
// slow and obviously correct on purpose: tests compare router's compiled
// Matcher with it on random rules and events, and benchmarks use it as the
// naive peer. It shares no code with router, so a mistake in one is not
// copied into the other.
//
// It does not implement the "sql" filter dialect (CloudEvents SQL has one
// implementation here, the SDK's), and expects rules that router accepts.
package routertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Rule is a route's rule as JSON, as in router.Rule.
type Rule struct {
	Match   json.RawMessage
	Filters json.RawMessage
}

// Evaluator checks events against a set of named rules one by one.
type Evaluator struct {
	names   []string
	match   []map[string]any
	filters [][]any
}

// NewEvaluator decodes the rules; it validates only what it needs to.
func NewEvaluator(rules map[string]Rule) (*Evaluator, error) {
	ev := &Evaluator{}
	for name := range rules {
		ev.names = append(ev.names, name)
	}
	sort.Strings(ev.names)
	for _, name := range ev.names {
		r := rules[name]
		var m map[string]any
		if len(bytes.TrimSpace(r.Match)) > 0 {
			if err := decode(r.Match, &m); err != nil {
				return nil, fmt.Errorf("route %q: match: %w", name, err)
			}
		}
		var f []any
		if len(bytes.TrimSpace(r.Filters)) > 0 {
			if err := decode(r.Filters, &f); err != nil {
				return nil, fmt.Errorf("route %q: filters: %w", name, err)
			}
			if strings.Contains(string(r.Filters), `"sql"`) {
				return nil, fmt.Errorf("route %q: the reference does not evaluate sql filters", name)
			}
		}
		ev.match = append(ev.match, m)
		ev.filters = append(ev.filters, f)
	}
	return ev, nil
}

func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// opaqueData stands for data that is not JSON.
type opaqueData struct{}

// Event is an event decoded for the evaluator.
type Event map[string]any

// DecodeEvent reads an event in the form router.ParseEventJSON reads:
// attributes at the top level, the payload under "data"; data_base64 or a
// non-JSON datacontenttype makes the payload opaque.
func DecodeEvent(doc []byte) (Event, error) {
	var e map[string]any
	if err := decode(doc, &e); err != nil {
		return nil, err
	}
	if e == nil {
		return nil, errors.New("event is null")
	}
	for k, v := range e {
		if v == nil {
			delete(e, k)
		}
	}
	ct, _ := e["datacontenttype"].(string)
	mt := strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	jsonData := mt == "" || mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
	if _, ok := e["data_base64"]; ok {
		delete(e, "data_base64")
		e["data"] = opaqueData{}
	} else if _, ok := e["data"]; ok && !jsonData {
		e["data"] = opaqueData{}
	}
	return e, nil
}

// Match returns the names of the rules that select e, sorted, or nil.
func (ev *Evaluator) Match(e Event) []string {
	var out []string
	for i, name := range ev.names {
		if ev.Matches(i, e) {
			out = append(out, name)
		}
	}
	return out
}

// Matches reports whether the i-th rule, in name order, selects e.
func (ev *Evaluator) Matches(i int, e Event) bool {
	if ev.match[i] != nil && !objectHolds(ev.match[i], nil, e) {
		return false
	}
	for _, f := range ev.filters[i] {
		if !filterHolds(f.(map[string]any), e) {
			return false
		}
	}
	return true
}

// objectHolds: every member of a pattern object holds.
func objectHolds(p map[string]any, path []string, e Event) bool {
	for key, val := range p {
		var ok bool
		switch v := val.(type) {
		case map[string]any:
			ok = objectHolds(v, append(path[:len(path):len(path)], key), e)
		case []any:
			if key == "$or" {
				for _, alt := range v {
					if objectHolds(alt.(map[string]any), path, e) {
						ok = true
						break
					}
				}
			} else {
				ok = fieldHolds(v, leaves(e, append(path[:len(path):len(path)], key)))
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// leaves returns the scalar values at path, looking through arrays.
func leaves(e Event, path []string) []any {
	var out []any
	var walk func(v any, rest []string)
	walk = func(v any, rest []string) {
		if arr, ok := v.([]any); ok {
			for _, x := range arr {
				walk(x, rest)
			}
			return
		}
		if obj, ok := v.(map[string]any); ok {
			if len(rest) > 0 {
				if child, ok := obj[rest[0]]; ok {
					walk(child, rest[1:])
				}
			}
			return
		}
		if len(rest) == 0 {
			out = append(out, v)
		}
	}
	walk(map[string]any(e), path)
	return out
}

func fieldHolds(entries []any, values []any) bool {
	if len(values) == 0 {
		for _, entry := range entries {
			if op, ok := entry.(map[string]any); ok && op["exists"] == false {
				return true
			}
		}
		return false
	}
	for _, v := range values {
		for _, entry := range entries {
			if entryHolds(entry, v) {
				return true
			}
		}
	}
	return false
}

func entryHolds(entry, v any) bool {
	if _, ok := v.(opaqueData); ok {
		op, isOp := entry.(map[string]any)
		return isOp && op["exists"] == true
	}
	op, isOp := entry.(map[string]any)
	if !isOp {
		return equal(entry, v)
	}
	for name, arg := range op {
		s, isString := v.(string)
		switch name {
		case "exists":
			return arg == true
		case "prefix", "suffix":
			if !isString {
				return false
			}
			return affixHolds(name, arg, s)
		case "equals-ignore-case":
			return isString && strings.EqualFold(s, arg.(string))
		case "wildcard":
			return isString && wildcardRegexp(arg.(string)).MatchString(s)
		case "cidr":
			_, network, _ := net.ParseCIDR(arg.(string))
			ip := net.ParseIP(s)
			return isString && ip != nil && network.Contains(ip)
		case "numeric":
			return numericHolds(arg.([]any), v)
		case "anything-but":
			return anythingButHolds(arg, v)
		}
	}
	return false
}

func affixHolds(name string, arg any, s string) bool {
	if obj, ok := arg.(map[string]any); ok {
		want := obj["equals-ignore-case"].(string)
		n := utf8.RuneCountInString(want)
		runes := []rune(s)
		if len(runes) < n {
			return false
		}
		if name == "prefix" {
			return strings.EqualFold(string(runes[:n]), want)
		}
		return strings.EqualFold(string(runes[len(runes)-n:]), want)
	}
	if name == "prefix" {
		return strings.HasPrefix(s, arg.(string))
	}
	return strings.HasSuffix(s, arg.(string))
}

// equal compares a pattern value with an event value, numbers by value.
func equal(p, v any) bool {
	if n, ok := p.(json.Number); ok {
		f, _ := n.Float64()
		g, isNum := number(v)
		return isNum && f == g
	}
	return p == v
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}

func wildcardRegexp(w string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	var lit strings.Builder
	for i := 0; i < len(w); i++ {
		switch {
		case w[i] == '\\' && i+1 < len(w):
			i++
			lit.WriteByte(w[i])
		case w[i] == '*':
			b.WriteString(regexp.QuoteMeta(lit.String()))
			lit.Reset()
			b.WriteString(`.*`)
		default:
			lit.WriteByte(w[i])
		}
	}
	b.WriteString(regexp.QuoteMeta(lit.String()))
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// numericHolds compares at six decimal places within ±5e9, as documented.
func numericHolds(spec []any, v any) bool {
	f, ok := number(v)
	if !ok || f < -5e9 || f > 5e9 {
		return false
	}
	x := math.Round(f * 1e6)
	for i := 0; i < len(spec); i += 2 {
		bf, _ := spec[i+1].(json.Number).Float64()
		bound := math.Round(bf * 1e6)
		var holds bool
		switch spec[i].(string) {
		case "=":
			holds = x == bound
		case "<":
			holds = x < bound
		case "<=":
			holds = x <= bound
		case ">":
			holds = x > bound
		case ">=":
			holds = x >= bound
		}
		if !holds {
			return false
		}
	}
	return true
}

func anythingButHolds(arg, v any) bool {
	switch a := arg.(type) {
	case []any:
		for _, x := range a {
			if equal(x, v) {
				return false
			}
		}
		return true
	case map[string]any:
		s, isString := v.(string)
		if !isString {
			return false
		}
		for name, inner := range a {
			list, isList := inner.([]any)
			if !isList {
				list = []any{inner}
			}
			for _, x := range list {
				var hit bool
				switch name {
				case "prefix":
					hit = strings.HasPrefix(s, x.(string))
				case "suffix":
					hit = strings.HasSuffix(s, x.(string))
				case "equals-ignore-case":
					hit = strings.EqualFold(s, x.(string))
				case "wildcard":
					hit = wildcardRegexp(x.(string)).MatchString(s)
				}
				if hit {
					return false
				}
			}
		}
		return true
	default:
		return !equal(arg, v)
	}
}

func filterHolds(f map[string]any, e Event) bool {
	for dialect, arg := range f {
		switch dialect {
		case "exact", "prefix", "suffix":
			for name, want := range arg.(map[string]any) {
				got, ok := attributeString(e, name)
				if !ok {
					return false
				}
				w := want.(string)
				if dialect == "exact" && got != w || dialect == "prefix" && !strings.HasPrefix(got, w) || dialect == "suffix" && !strings.HasSuffix(got, w) {
					return false
				}
			}
			return true
		case "all":
			for _, sub := range arg.([]any) {
				if !filterHolds(sub.(map[string]any), e) {
					return false
				}
			}
			return true
		case "any":
			for _, sub := range arg.([]any) {
				if filterHolds(sub.(map[string]any), e) {
					return true
				}
			}
			return false
		case "not":
			return !filterHolds(arg.(map[string]any), e)
		}
	}
	return false
}

func attributeString(e Event, name string) (string, bool) {
	if name == "data" {
		return "", false
	}
	v, ok := e[name]
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		f, _ := x.Float64()
		return strconv.FormatFloat(f, 'f', -1, 64), true
	}
	b, _ := json.Marshal(v)
	return string(b), true
}
