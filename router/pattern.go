package router

import (
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/eventbus-go/eventbus/spec"
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
	p.errs = append(p.errs, &spec.FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// parsePattern validates a match document and expands it into clauses: the
// pattern matches an event when all field tests of any clause hold.
func parsePattern(raw []byte, lim Limits) ([][]*fieldTest, []error) {
	const root = "match"
	if len(raw) > lim.MaxRuleBytes {
		return nil, []error{&spec.FieldError{Path: root, Message: fmt.Sprintf("is %d bytes; the limit is %d: split the route or simplify the pattern", len(raw), lim.MaxRuleBytes)}}
	}
	// Operators add up to three levels below the deepest field (array,
	// operator object, operand array); deeper nesting is refused while
	// decoding so that a hostile document cannot exhaust the stack.
	doc, err := parseJSONTree(raw, lim.MaxDepth+4)
	if err != nil {
		return nil, []error{&spec.FieldError{Path: root, Message: "is not valid JSON: " + err.Error()}}
	}
	if doc.kind != jsonObject {
		return nil, []error{&spec.FieldError{Path: root, Message: fmt.Sprintf(`must be a JSON object such as {"type": ["order.created"]}, not %s`, doc.kind)}}
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
		return nil, []error{&spec.FieldError{Path: root, Message: fmt.Sprintf("$or expands into more than %d combinations of fields: split the route into several", lim.MaxAlternatives)}}
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

// operatorNames lists the operators a field's array accepts, for messages.
const operatorNames = "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr"

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
	case "prefix", "suffix":
		if t, ok := p.affix(op, arg, opath); ok {
			t.text = text
			ft.tests = append(ft.tests, t)
		}
	case "equals-ignore-case":
		if s, ok := p.stringOperand(arg, opath); ok {
			ft.tests = append(ft.tests, valueTest{op: opEqualsFold, str: foldCase(s), text: text})
		}
	case "wildcard":
		if w, ok := p.wildcard(arg, opath); ok {
			ft.tests = append(ft.tests, valueTest{op: opWildcard, glob: w, text: text})
		}
	case "anything-but":
		if t, ok := p.anythingBut(arg, opath); ok {
			t.text = text
			ft.tests = append(ft.tests, t)
		}
	case "numeric":
		if r, ok := p.numeric(arg, opath); ok {
			ft.tests = append(ft.tests, valueTest{op: opNumeric, rng: r, text: text})
		}
	case "cidr":
		if c, ok := p.cidr(arg, opath); ok {
			ft.tests = append(ft.tests, valueTest{op: opCIDR, cidr: c, text: text})
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
		p.fail(opath, "is not a known operator; use one of: %s", operatorNames)
	}
}

// affix parses the operand of prefix or suffix: a string, or
// {"equals-ignore-case": string}.
func (p *patternParser) affix(op string, arg jsonNode, jpath string) (valueTest, bool) {
	exact, folded := opPrefix, opPrefixFold
	if op == "suffix" {
		exact, folded = opSuffix, opSuffixFold
	}
	if arg.kind == jsonObject && len(arg.members) == 1 && arg.members[0].key == "equals-ignore-case" {
		s, ok := p.stringOperand(arg.members[0].val, jsonPathKey(jpath, "equals-ignore-case"))
		return valueTest{op: folded, str: foldCase(s)}, ok
	}
	if arg.kind != jsonString {
		p.fail(jpath, `must be a string, or {"equals-ignore-case": string}, not %s`, arg)
		return valueTest{}, false
	}
	s, ok := p.stringOperand(arg, jpath)
	return valueTest{op: exact, str: s}, ok
}

// stringOperand checks that an operand is a string of allowed length.
func (p *patternParser) stringOperand(arg jsonNode, jpath string) (string, bool) {
	if arg.kind != jsonString {
		p.fail(jpath, "must be a string, not %s", arg.kind)
		return "", false
	}
	return arg.text, p.checkOperand(jpath, arg.text)
}

// wildcard parses a wildcard operand: '*' matches any run of characters,
// \* is a literal star and \\ a literal backslash (written "\\*" and
// "\\\\" in JSON). Consecutive stars and other escapes are refused, as in
// AWS EventBridge.
func (p *patternParser) wildcard(arg jsonNode, jpath string) (wildcard, bool) {
	s, ok := p.stringOperand(arg, jpath)
	if !ok {
		return wildcard{}, false
	}
	var segs []string
	var cur strings.Builder
	stars := 0
	prevStar := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			if prevStar {
				p.fail(jpath, "%q has consecutive '*': one '*' already matches any run of characters", s)
				return wildcard{}, false
			}
			stars++
			prevStar = true
			segs = append(segs, cur.String())
			cur.Reset()
			continue
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				p.fail(jpath, `%q has a backslash that escapes neither '*' nor '\': write \* for a literal star and \\ for a literal backslash`, s)
				return wildcard{}, false
			}
			i++
			cur.WriteByte(s[i])
		default:
			cur.WriteByte(c)
		}
		prevStar = false
	}
	segs = append(segs, cur.String())
	if stars > p.lim.MaxWildcards {
		p.fail(jpath, "%q has %d '*'; the limit is %d, because each one multiplies the work of matching", s, stars, p.lim.MaxWildcards)
		return wildcard{}, false
	}
	return wildcard{segments: segs}, true
}

// anythingBut parses the operand of anything-but: a string, a number, a
// non-empty list of all strings or all numbers, or one of the objects
// {"prefix": s}, {"suffix": s}, {"equals-ignore-case": s or [s...]},
// {"wildcard": s or [s...]}.
func (p *patternParser) anythingBut(arg jsonNode, jpath string) (valueTest, bool) {
	t := valueTest{op: opAnythingBut}
	switch arg.kind {
	case jsonString:
		if s, ok := p.stringOperand(arg, jpath); ok {
			t.but = []valueTest{{op: opExactString, str: s}}
			return t, true
		}
		return t, false
	case jsonNumber:
		t.but = []valueTest{{op: opExactNumber, num: normalizeZero(arg.num)}}
		return t, true
	case jsonArray:
		if len(arg.elems) == 0 {
			p.fail(jpath, "is an empty list, which excludes nothing: list the values to exclude")
			return t, false
		}
		kind := arg.elems[0].kind
		for i, e := range arg.elems {
			epath := fmt.Sprintf("%s[%d]", jpath, i)
			if e.kind != kind || (kind != jsonString && kind != jsonNumber) {
				p.fail(epath, "must be a string or a number, and all entries of the list of one kind, not %s", e.kind)
				return t, false
			}
			if i > 0 {
				p.values++
			}
			if kind == jsonNumber {
				t.but = append(t.but, valueTest{op: opExactNumber, num: normalizeZero(e.num)})
			} else if p.checkOperand(epath, e.text) {
				t.but = append(t.but, valueTest{op: opExactString, str: e.text})
			}
		}
		return t, true
	case jsonObject:
		if len(arg.members) != 1 {
			break
		}
		op, inner := arg.members[0].key, arg.members[0].val
		ipath := jsonPathKey(jpath, op)
		t.butStringsOnly = true
		switch op {
		case "prefix", "suffix":
			if inner.kind != jsonString {
				p.fail(ipath, "must be a string, not %s", inner.kind)
				return t, false
			}
			sub, ok := p.affix(op, inner, ipath)
			t.but = []valueTest{sub}
			return t, ok
		case "equals-ignore-case", "wildcard":
			list := []jsonNode{inner}
			listPath := func(int) string { return ipath }
			if inner.kind == jsonArray {
				if len(inner.elems) == 0 {
					p.fail(ipath, "is an empty list, which excludes nothing")
					return t, false
				}
				list = inner.elems
				listPath = func(i int) string { return fmt.Sprintf("%s[%d]", ipath, i) }
				p.values += len(list) - 1
			}
			ok := true
			for i, e := range list {
				if op == "wildcard" {
					w, wok := p.wildcard(e, listPath(i))
					t.but = append(t.but, valueTest{op: opWildcard, glob: w})
					ok = ok && wok
				} else {
					s, sok := p.stringOperand(e, listPath(i))
					t.but = append(t.but, valueTest{op: opEqualsFold, str: foldCase(s)})
					ok = ok && sok
				}
			}
			return t, ok
		}
	}
	p.fail(jpath, `must be a string, a number, a list of strings or of numbers, or one of {"prefix": s}, {"suffix": s}, {"equals-ignore-case": s}, {"wildcard": s}; got %s`, arg)
	return t, false
}

// numeric parses ["op", n] or a range ["op", n, "op", n] with one lower
// (">", ">=") and one upper ("<", "<=") bound.
func (p *patternParser) numeric(arg jsonNode, jpath string) (numericRange, bool) {
	var r numericRange
	const usage = `must be ["=", n], ["<", n], ["<=", n], [">", n], [">=", n] or a range such as [">", 0, "<=", 5]`
	if arg.kind != jsonArray || (len(arg.elems) != 2 && len(arg.elems) != 4) {
		p.fail(jpath, usage)
		return r, false
	}
	for i := 0; i < len(arg.elems); i += 2 {
		opNode, numNode := arg.elems[i], arg.elems[i+1]
		if opNode.kind != jsonString || numNode.kind != jsonNumber {
			p.fail(jpath, usage)
			return r, false
		}
		q, ok := quantize(numNode.num)
		if !ok {
			p.fail(fmt.Sprintf("%s[%d]", jpath, i+1), "%s is outside the range numeric matching supports, -5e9 to 5e9", numNode.text)
			return r, false
		}
		if math.Abs(float64(q)-numNode.num*numericScale) > 1e-3 {
			p.fail(fmt.Sprintf("%s[%d]", jpath, i+1), "%s has more than 6 digits after the decimal point, the precision of numeric matching", numNode.text)
			return r, false
		}
		if i > 0 {
			p.values++
		}
		switch opNode.text {
		case "=":
			if len(arg.elems) != 2 {
				p.fail(jpath, `"=" stands alone: use ["=", n]`)
				return r, false
			}
			r.lo, r.hi, r.hasLo, r.hasHi = q, q, true, true
		case ">", ">=":
			if r.hasLo {
				p.fail(jpath, "has two lower bounds: "+usage)
				return r, false
			}
			r.lo, r.hasLo, r.loOpen = q, true, opNode.text == ">"
		case "<", "<=":
			if r.hasHi {
				p.fail(jpath, "has two upper bounds: "+usage)
				return r, false
			}
			r.hi, r.hasHi, r.hiOpen = q, true, opNode.text == "<"
		default:
			p.fail(fmt.Sprintf("%s[%d]", jpath, i), "%s is not a comparison: %s", opNode, usage)
			return r, false
		}
	}
	if r.hasLo && r.hasHi && (r.lo > r.hi || r.lo == r.hi && (r.loOpen || r.hiOpen)) {
		p.fail(jpath, "is an empty range: no number is above the lower bound and below the upper one")
		return r, false
	}
	return r, true
}

// cidr parses an IPv4 or IPv6 network such as "10.0.0.0/24".
func (p *patternParser) cidr(arg jsonNode, jpath string) (netip.Prefix, bool) {
	s, ok := p.stringOperand(arg, jpath)
	if !ok {
		return netip.Prefix{}, false
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		if ip, ipErr := netip.ParseAddr(s); ipErr == nil {
			p.fail(jpath, "%q is an address, not a network: write %s/%d for that one address", s, s, ip.BitLen())
		} else {
			p.fail(jpath, "%q is not a network in CIDR notation such as 10.0.0.0/24 or 2001:db8::/32", s)
		}
		return netip.Prefix{}, false
	}
	if pfx != pfx.Masked() {
		p.fail(jpath, "%q has bits set after the prefix length: did you mean %s?", s, pfx.Masked())
		return netip.Prefix{}, false
	}
	return pfx, true
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
