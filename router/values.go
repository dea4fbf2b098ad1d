package router

import "strings"

// valueOp is the kind of a valueTest.
type valueOp uint8

const (
	opExactString valueOp = iota
	opExactNumber
	opExactBool
	opExactNull
	opPrefix
	opExists
)

// valueTest is one entry of a field's array in a pattern: an exact value or
// an operator with its operand.
type valueTest struct {
	op   valueOp
	str  string
	num  float64
	b    bool
	text string // as written in the pattern, for explanations
}

// opaque stands for event data that is not JSON: it is a value (so exists
// holds) that no other test matches.
type opaque struct{}

// matches reports whether one leaf value of the event passes the test. v is
// a JSON scalar as decoded by encoding/json (string, float64, bool, nil) or
// opaque.
func (t *valueTest) matches(v any) bool {
	switch t.op {
	case opExists:
		return true
	case opExactString:
		s, ok := v.(string)
		return ok && s == t.str
	case opExactNumber:
		f, ok := v.(float64)
		return ok && f == t.num
	case opExactBool:
		b, ok := v.(bool)
		return ok && b == t.b
	case opExactNull:
		return v == nil
	case opPrefix:
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, t.str)
	}
	return false
}
