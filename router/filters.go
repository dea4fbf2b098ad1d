package router

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	cesql "github.com/cloudevents/sdk-go/sql/v2"
	cesqlparser "github.com/cloudevents/sdk-go/sql/v2/parser"
	cesqlutils "github.com/cloudevents/sdk-go/sql/v2/utils"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/spec"
)

// filterDialect is one of the CloudEvents Subscriptions API filter dialects.
type filterDialect uint8

const (
	dialectExact filterDialect = iota
	dialectPrefix
	dialectSuffix
	dialectAll
	dialectAny
	dialectNot
	dialectSQL
)

var dialectNames = map[string]filterDialect{
	"exact": dialectExact, "prefix": dialectPrefix, "suffix": dialectSuffix,
	"all": dialectAll, "any": dialectAny, "not": dialectNot, "sql": dialectSQL,
}

// filter is one filter expression of a rule's "filters".
type filter struct {
	dialect filterDialect
	path    string          // JSON path, for explanations: "filters[1]"
	attrs   []attrCondition // exact, prefix, suffix: all must hold
	subs    []*filter       // all, any, not (one)
	sql     cesql.Expression
	sqlText string
	text    string // as written
}

// attrCondition compares one context attribute, as a string, with a value.
type attrCondition struct {
	name, value string
}

// cesqlParseMu serializes CESQL parsing: the ANTLR runtime behind the parser
// shares its prediction caches between parsers without locking.
var cesqlParseMu sync.Mutex

// parseFilters validates a filters document: a JSON array of filter
// expressions that must all hold.
func parseFilters(raw []byte, lim Limits) ([]*filter, []error) {
	const root = "filters"
	if len(raw) > lim.MaxRuleBytes {
		return nil, []error{&spec.FieldError{Path: root, Message: fmt.Sprintf("is %d bytes; the limit is %d: split the route or simplify the filters", len(raw), lim.MaxRuleBytes)}}
	}
	doc, err := parseJSONTree(raw, 2*lim.MaxDepth+2)
	if err != nil {
		return nil, []error{&spec.FieldError{Path: root, Message: "is not valid JSON: " + err.Error()}}
	}
	if doc.kind != jsonArray {
		return nil, []error{&spec.FieldError{Path: root, Message: fmt.Sprintf(`must be an array of filters such as [{"exact": {"type": "order.created"}}], not %s`, doc.kind)}}
	}
	p := &patternParser{lim: lim}
	var out []*filter
	for i, n := range doc.elems {
		if f := p.filter(n, fmt.Sprintf("%s[%d]", root, i), 1); f != nil {
			out = append(out, f)
		}
	}
	if p.values > lim.MaxValues {
		p.fail(root, "has %d values; the limit is %d: split the route into several", p.values, lim.MaxValues)
	}
	return out, p.errs
}

func (p *patternParser) filter(n jsonNode, jpath string, depth int) *filter {
	if depth > p.lim.MaxDepth {
		p.fail(jpath, "nests filters deeper than %d levels", p.lim.MaxDepth)
		return nil
	}
	if n.kind != jsonObject || len(n.members) != 1 {
		p.fail(jpath, `must be an object with exactly one dialect, such as {"exact": {"type": "order.created"}}; use "all" to combine several`)
		return nil
	}
	name, arg := n.members[0].key, n.members[0].val
	dialect, ok := dialectNames[name]
	dpath := jsonPathKey(jpath, name)
	if !ok {
		p.fail(dpath, "is not a known filter dialect; use one of: exact, prefix, suffix, all, any, not, sql")
		return nil
	}
	f := &filter{dialect: dialect, path: jpath, text: n.String()}
	switch dialect {
	case dialectExact, dialectPrefix, dialectSuffix:
		if arg.kind != jsonObject || len(arg.members) == 0 {
			p.fail(dpath, `must be an object of attribute names and string values, such as {"type": "order.created"}`)
			return nil
		}
		for _, m := range arg.members {
			apath := jsonPathKey(dpath, m.key)
			p.values++
			switch {
			case m.key == "":
				p.fail(dpath, "has an empty attribute name")
			case m.val.kind != jsonString || m.val.text == "":
				p.fail(apath, "must be a non-empty string, not %s", m.val)
			case p.checkOperand(apath, m.val.text):
				f.attrs = append(f.attrs, attrCondition{name: m.key, value: m.val.text})
			}
		}
	case dialectAll, dialectAny:
		if arg.kind != jsonArray || len(arg.elems) == 0 {
			p.fail(dpath, "must be a non-empty array of filters")
			return nil
		}
		for i, e := range arg.elems {
			if sub := p.filter(e, fmt.Sprintf("%s[%d]", dpath, i), depth+1); sub != nil {
				f.subs = append(f.subs, sub)
			}
		}
	case dialectNot:
		sub := p.filter(arg, dpath, depth+1)
		if sub == nil {
			return nil
		}
		f.subs = []*filter{sub}
	case dialectSQL:
		p.values++
		s, ok := p.stringOperand(arg, dpath)
		if !ok {
			return nil
		}
		expr, err := parseSQL(s)
		if err != nil {
			p.fail(dpath, "is not a valid CloudEvents SQL expression: %v", err)
			return nil
		}
		f.sql, f.sqlText = expr, s
	}
	return f
}

// parseSQL parses a CloudEvents SQL expression. The SDK's parser panics on
// some malformed input (such as "type =") rather than returning an error, so
// a panic is turned into one.
func parseSQL(s string) (expr cesql.Expression, err error) {
	cesqlParseMu.Lock()
	defer cesqlParseMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			expr, err = nil, fmt.Errorf("incomplete or malformed expression")
		}
	}()
	return cesqlparser.Parse(s)
}

// evaluateSQL evaluates an expression, turning a panic of the SDK's
// evaluator into an error as for parsing: one odd event must not take the
// bus down.
func evaluateSQL(expr cesql.Expression, ce event.Event) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("evaluation failed: %v", r)
		}
	}()
	return expr.Evaluate(ce)
}

// holds evaluates the filter. On failure it says why, for Explain.
func (f *filter) holds(e *Event) (bool, string) {
	switch f.dialect {
	case dialectExact, dialectPrefix, dialectSuffix:
		for _, c := range f.attrs {
			where := f.path + "." + dialectName(f.dialect) + "." + c.name
			v, ok := e.attributeString(c.name)
			if !ok {
				return false, fmt.Sprintf("%s: the event has no attribute %q", where, c.name)
			}
			var held bool
			switch f.dialect {
			case dialectExact:
				held = v == c.value
			case dialectPrefix:
				held = strings.HasPrefix(v, c.value)
			default:
				held = strings.HasSuffix(v, c.value)
			}
			if !held {
				return false, fmt.Sprintf("%s: %s does not %s %s", where, quoteJSON(v), dialectVerb(f.dialect), quoteJSON(c.value))
			}
		}
		return true, ""
	case dialectAll:
		for _, sub := range f.subs {
			if ok, why := sub.holds(e); !ok {
				return false, why
			}
		}
		return true, ""
	case dialectAny:
		for _, sub := range f.subs {
			if ok, _ := sub.holds(e); ok {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s: none of the %d filters of %s holds", f.path, len(f.subs), f.text)
	case dialectNot:
		if ok, _ := f.subs[0].holds(e); ok {
			return false, fmt.Sprintf("%s: %s holds, so not fails", f.path, f.subs[0].text)
		}
		return true, ""
	default:
		v, err := evaluateSQL(f.sql, e.cloudEvent())
		if err != nil {
			return false, fmt.Sprintf("%s.sql: %s failed, which counts as false: %v", f.path, f.sqlText, err)
		}
		// The Subscriptions API coerces the result to a boolean, so
		// 'TRUE' (a string) holds too.
		b, err := cesqlutils.Cast(v, cesql.BooleanType)
		if err != nil || b != true {
			return false, fmt.Sprintf("%s.sql: %s is %v", f.path, f.sqlText, v)
		}
		return true, ""
	}
}

func dialectName(d filterDialect) string {
	for name, v := range dialectNames {
		if v == d {
			return name
		}
	}
	return "?"
}

func dialectVerb(d filterDialect) string {
	switch d {
	case dialectExact:
		return "equal"
	case dialectPrefix:
		return "start with"
	default:
		return "end with"
	}
}

// indexableTests turns the conditions of filters that are certain to be
// required (top-level, or inside "all") on the string context attributes
// into equivalent field tests, so that the Matcher can find routes that
// filter on type or source by lookup, as it does for patterns. The filters
// are still evaluated in full for the routes found.
func indexableTests(filters []*filter) []*fieldTest {
	var out []*fieldTest
	for _, f := range filters {
		switch f.dialect {
		case dialectAll:
			out = append(out, indexableTests(f.subs)...)
		case dialectExact, dialectPrefix, dialectSuffix:
			op := map[filterDialect]valueOp{dialectExact: opExactString, dialectPrefix: opPrefix, dialectSuffix: opSuffix}[f.dialect]
			for _, c := range f.attrs {
				if !slices.Contains(contextAttributes, c.name) {
					continue // an extension may be a number or boolean
				}
				t := valueTest{op: op, str: c.value, text: quoteJSON(c.value)}
				if op != opExactString {
					t.text = fmt.Sprintf(`{"%s":%s}`, dialectName(f.dialect), quoteJSON(c.value))
				}
				out = append(out, &fieldTest{path: []string{c.name}, name: c.name, tests: []valueTest{t}, text: t.text})
			}
		}
	}
	return out
}
