package router

import (
	"math"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// valueOp is the kind of a valueTest.
type valueOp uint8

const (
	opExactString valueOp = iota
	opExactNumber
	opExactBool
	opExactNull
	opPrefix
	opSuffix
	opEqualsFold // equals-ignore-case
	opPrefixFold // prefix with equals-ignore-case
	opSuffixFold // suffix with equals-ignore-case
	opWildcard
	opNumeric
	opCIDR
	opExists
	opAnythingBut
)

// valueTest is one entry of a field's array in a pattern: an exact value or
// an operator with its operand. Every test decides on one leaf value alone;
// the compiled Matcher indexes the tests it can and calls matches for the
// rest, and Explain calls matches for all, so matches is the definition.
type valueTest struct {
	op   valueOp
	str  string // string operand; case-folded for the *Fold operators
	num  float64
	b    bool
	rng  numericRange
	cidr netip.Prefix
	glob wildcard
	// For anything-but: the value passes when none of these tests does.
	// With butStringsOnly (anything-but of prefix, suffix,
	// equals-ignore-case or wildcard) only strings can pass.
	but            []valueTest
	butStringsOnly bool
	text           string // as written in the pattern, for explanations
}

// opaque stands for event data that is not JSON: a value, so exists holds,
// that no other test matches.
type opaque struct{}

// matches reports whether one leaf value of the event passes the test. v is
// a JSON scalar as decoded by encoding/json (string, float64, bool, nil) or
// opaque.
func (t *valueTest) matches(v any) bool {
	if t.op == opExists {
		return true
	}
	if _, ok := v.(opaque); ok {
		return false
	}
	switch t.op {
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
	case opAnythingBut:
		if _, isString := v.(string); t.butStringsOnly && !isString {
			return false
		}
		for i := range t.but {
			if t.but[i].matches(v) {
				return false
			}
		}
		return true
	case opNumeric:
		f, ok := v.(float64)
		return ok && t.rng.contains(f)
	}
	s, ok := v.(string)
	if !ok {
		return false // the remaining operators only apply to strings
	}
	switch t.op {
	case opPrefix:
		return strings.HasPrefix(s, t.str)
	case opSuffix:
		return strings.HasSuffix(s, t.str)
	case opEqualsFold:
		return foldCase(s) == t.str
	case opPrefixFold:
		return strings.HasPrefix(foldCase(s), t.str)
	case opSuffixFold:
		return strings.HasSuffix(foldCase(s), t.str)
	case opWildcard:
		return t.glob.matches(s)
	case opCIDR:
		ip, err := netip.ParseAddr(s)
		return err == nil && t.cidr.Contains(ip.Unmap())
	}
	return false
}

// foldCase maps s to a canonical case so that two strings are equal after
// folding exactly when strings.EqualFold says they are equal: each rune
// becomes the smallest rune of its Unicode simple case-folding orbit.
func foldCase(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// For ASCII the smallest rune of an orbit is the upper-case
		// letter, except for k and s whose orbits hold the Kelvin and
		// long-s signs, which are larger, so upper case still wins.
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// numericMax bounds the numbers that numeric compares, and numericScale is
// its precision: AWS EventBridge documents numeric matching for values
// between -5e9 and 5e9 with six digits after the decimal point, and we keep
// that contract so that patterns behave the same on both.
const (
	numericMax   = 5e9
	numericScale = 1e6
)

// numericRange is an interval of numbers in units of 1e-6.
type numericRange struct {
	lo, hi         int64
	hasLo, hasHi   bool
	loOpen, hiOpen bool
}

// quantize converts a number to units of 1e-6, reporting false when it is
// outside the range numeric matching supports.
func quantize(f float64) (int64, bool) {
	if math.IsNaN(f) || f < -numericMax || f > numericMax {
		return 0, false
	}
	return int64(math.Round(f * numericScale)), true
}

func (r numericRange) contains(f float64) bool {
	q, ok := quantize(f)
	if !ok {
		return false
	}
	if r.hasLo && (q < r.lo || r.loOpen && q == r.lo) {
		return false
	}
	if r.hasHi && (q > r.hi || r.hiOpen && q == r.hi) {
		return false
	}
	return true
}

// wildcard is a parsed wildcard operand: literal segments that '*'
// separates. A pattern without '*' has one segment and matches only itself.
type wildcard struct {
	segments []string
}

// matches reports whether s is the segments in order with anything between
// them. Taking the leftmost occurrence of each middle segment is enough:
// an earlier match never leaves less room for the segments after it, so the
// check is linear in len(s) per segment, with no backtracking.
func (w wildcard) matches(s string) bool {
	segs := w.segments
	if len(segs) == 1 {
		return s == segs[0]
	}
	first, last := segs[0], segs[len(segs)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, seg := range segs[1 : len(segs)-1] {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}
