package router

import (
	"fmt"
	"strings"
)

// fieldTest is one field of a pattern: the field at path matches when any of
// its values passes any of the tests, or, with absentOK, when it has no
// value at all. A field's values are the leaves found at its path, with
// event arrays flattened.
type fieldTest struct {
	path     []string // field names from the top level of the event
	name     string   // path joined with dots, for messages: "data.plan"
	tests    []valueTest
	absentOK bool   // the pattern lists {"exists": false}
	text     string // the pattern's array as written, for explanations
}

// patternNode is one object of a pattern: its fields AND together with each
// of its $or groups; a group holds when any of its alternatives does.
type patternNode struct {
	fields []*fieldTest
	ors    [][]*patternNode
}

// patternParser walks a decoded pattern, collecting every problem rather
// than stopping at the first, so that a user fixes a rule in one round.
type patternParser struct {
	lim    Limits
	values int
	errs   []error
}

func (p *patternParser) fail(path, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// parsePattern validates a match document and expands it into clauses: the
// pattern matches an event when all field tests of any clause hold.
func parsePattern(raw []byte, lim Limits) ([][]*fieldTest, []error) {
	const root = "match"
	if len(raw) > lim.MaxRuleBytes {
		return nil, []error{&FieldError{Path: root, Message: fmt.Sprintf("is %d bytes; the limit is %d: split the route or simplify the pattern", len(raw), lim.MaxRuleBytes)}}
	}
	// Operators add up to three levels below the deepest field (array,
	// operator object, operand array); deeper nesting is refused while
	// decoding so that a hostile document cannot exhaust the stack.
	doc, err := parseJSONTree(raw, lim.MaxDepth+4)
	if err != nil {
		return nil, []error{&FieldError{Path: root, Message: "is not valid JSON: " + err.Error()}}
	}
	if doc.kind != jsonObject {
		return nil, []error{&FieldError{Path: root, Message: fmt.Sprintf(`must be a JSON object such as {"type": ["order.created"]}, not %s`, doc.kind)}}
	}
	p := &patternParser{lim: lim}
	node := p.object(doc, nil, root, 1)
	if p.values > lim.MaxValues {
		p.fail(root, "has %d values; the limit is %d: split the route into several", p.values, lim.MaxValues)
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	clauses, ok := expand(node, lim.MaxAlternatives)
	if !ok {
		return nil, []error{&FieldError{Path: root, Message: fmt.Sprintf("$or expands into more than %d combinations of fields: split the route into several", lim.MaxAlternatives)}}
	}
	return clauses, nil
}

func (p *patternParser) object(n jsonNode, path []string, jpath string, depth int) *patternNode {
	node := &patternNode{}
	if depth > p.lim.MaxDepth {
		p.fail(jpath, "nests fields deeper than %d levels", p.lim.MaxDepth)
		return node
	}
	for _, m := range n.members {
		mpath := jsonPathKey(jpath, m.key)
		if m.key == "$or" {
			node.ors = append(node.ors, p.or(m.val, path, mpath, depth))
			continue
		}
		fieldPath := append(path[:len(path):len(path)], m.key)
		switch m.val.kind {
		case jsonObject:
			if len(m.val.members) == 0 {
				p.fail(mpath, "is an empty object: name the nested fields to match, or remove it")
				continue
			}
			child := p.object(m.val, fieldPath, mpath, depth+1)
			node.fields = append(node.fields, child.fields...)
			node.ors = append(node.ors, child.ors...)
		case jsonArray:
			if ft := p.field(m.val, fieldPath, mpath); ft != nil {
				node.fields = append(node.fields, ft)
			}
		default:
			p.fail(mpath, `must be an array of values to match, such as [%s], or an object of nested fields`, m.val)
		}
	}
	return node
}

func (p *patternParser) or(n jsonNode, path []string, jpath string, depth int) []*patternNode {
	if n.kind != jsonArray || len(n.elems) == 0 {
		p.fail(jpath, `must be an array of patterns, such as [{"type": ["a"]}, {"source": ["b"]}]`)
		return nil
	}
	var alts []*patternNode
	for i, e := range n.elems {
		epath := fmt.Sprintf("%s[%d]", jpath, i)
		if e.kind != jsonObject || len(e.members) == 0 {
			p.fail(epath, "must be a non-empty object of fields to match")
			continue
		}
		alts = append(alts, p.object(e, path, epath, depth+1))
	}
	return alts
}

// field parses the array of one field: its values and operators OR together.
func (p *patternParser) field(n jsonNode, path []string, jpath string) *fieldTest {
	if len(n.elems) == 0 {
		p.fail(jpath, `is an empty array, which matches nothing: list values, or use [{"exists": false}] for a missing field`)
		return nil
	}
	ft := &fieldTest{path: path, name: strings.Join(path, "."), text: n.String()}
	if len(n.elems) == 1 {
		ft.text = n.elems[0].String()
	}
	for i, e := range n.elems {
		epath := fmt.Sprintf("%s[%d]", jpath, i)
		p.values++
		switch e.kind {
		case jsonString:
			if p.checkOperand(epath, e.text) {
				ft.tests = append(ft.tests, valueTest{op: opExactString, str: e.text, text: e.String()})
			}
		case jsonNumber:
			ft.tests = append(ft.tests, valueTest{op: opExactNumber, num: normalizeZero(e.num), text: e.text})
		case jsonBool:
			ft.tests = append(ft.tests, valueTest{op: opExactBool, b: e.b, text: e.String()})
		case jsonNull:
			ft.tests = append(ft.tests, valueTest{op: opExactNull, text: "null"})
		case jsonObject:
			p.operator(e, ft, epath)
		case jsonArray:
			p.fail(epath, "is an array inside a field's array: list the values directly")
		}
	}
	return ft
}

// operator parses one {"operator": operand} object of a field's array.
func (p *patternParser) operator(n jsonNode, ft *fieldTest, jpath string) {
	if len(n.members) != 1 {
		p.fail(jpath, `must hold exactly one operator, such as {"prefix": "pro"}; put several operators in separate objects of the array`)
		return
	}
	op, arg := n.members[0].key, n.members[0].val
	opath := jsonPathKey(jpath, op)
	text := n.String()
	switch op {
	case "prefix":
		if arg.kind != jsonString {
			p.fail(opath, "must be a string, not %s", arg.kind)
			return
		}
		if p.checkOperand(opath, arg.text) {
			ft.tests = append(ft.tests, valueTest{op: opPrefix, str: arg.text, text: text})
		}
	case "exists":
		if arg.kind != jsonBool {
			p.fail(opath, "must be true or false, not %s", arg.kind)
			return
		}
		if arg.b {
			ft.tests = append(ft.tests, valueTest{op: opExists, text: text})
		} else {
			ft.absentOK = true
		}
	default:
		p.fail(opath, "is not a known operator; use one of: prefix, exists")
	}
}

// checkOperand enforces MaxOperandBytes on a string operand.
func (p *patternParser) checkOperand(jpath, s string) bool {
	if len(s) > p.lim.MaxOperandBytes {
		p.fail(jpath, "is %d bytes long; the limit is %d", len(s), p.lim.MaxOperandBytes)
		return false
	}
	return true
}

// expand turns a pattern into its clauses: the fields of the node AND-ed with
// one alternative of each $or group, for every choice of alternatives. It
// gives up when there would be more than max clauses.
func expand(n *patternNode, max int) ([][]*fieldTest, bool) {
	clauses := [][]*fieldTest{n.fields}
	for _, group := range n.ors {
		var options [][]*fieldTest
		for _, alt := range group {
			sub, ok := expand(alt, max)
			if !ok {
				return nil, false
			}
			options = append(options, sub...)
		}
		if len(clauses)*len(options) > max {
			return nil, false
		}
		var next [][]*fieldTest
		for _, c := range clauses {
			for _, o := range options {
				joined := make([]*fieldTest, 0, len(c)+len(o))
				next = append(next, append(append(joined, c...), o...))
			}
		}
		clauses = next
	}
	return clauses, true
}

// jsonPathKey appends a key to a JSON path for messages: a.b for plain keys,
// a["odd key"] for keys that would be ambiguous after a dot.
func jsonPathKey(base, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r == '$' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return base + "." + key
	}
	return base + "[" + quoteJSON(key) + "]"
}

// normalizeZero maps -0 to 0 so that both compare and hash as one number.
func normalizeZero(f float64) float64 {
	if f == 0 {
		return 0
	}
	return f
}
