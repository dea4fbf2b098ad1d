// Package jsonscan checks JSON without decoding it. Valid gives the answer
// encoding/json's Valid gives, for every input, in a fraction of its time
// (BenchmarkValid compares them): the standard library's scanner, a
// state machine that calls a function per byte, took a tenth of a batched
// event's ingress. EachElement and Value let a reader check JSON in the
// pass that reads it: a batch is walked once, its events checked as they
// are read, and Valid checks only what the reader leaves.
package jsonscan

// maxDepth is how deep values may nest, as in encoding/json.
const maxDepth = 10000

// Valid reports whether b is one JSON value, with only space around it.
// Like encoding/json, it accepts any bytes other than control characters
// inside strings, valid UTF-8 or not.
func Valid(b []byte) bool {
	s := scanner{b: b}
	s.space()
	if !s.value() {
		return false
	}
	s.space()
	return s.i == len(b)
}

// EachElement walks b, a JSON array with only space around it, and calls
// read with where each element starts, its leading space skipped. read
// returns where the element ends, having checked it as Valid checks a
// value inside one array (Value, with depth 1, does), or false if it is
// not valid JSON there. EachElement reports whether b is such an array and
// read took every element: it is true exactly where Valid is true and b is
// an array, so a caller that reads each element as it checks it scans the
// array once, not once to check and again to read.
func EachElement(b []byte, read func(start int) (end int, ok bool)) bool {
	s := scanner{b: b}
	s.space()
	if s.next() != '[' {
		return false
	}
	s.i++
	s.space()
	if s.next() != ']' {
		for {
			end, ok := read(s.i)
			if !ok || end <= s.i || end > len(b) {
				return false
			}
			s.i = end
			s.space()
			if s.next() != ',' {
				break
			}
			s.i++
			s.space()
		}
		if s.next() != ']' {
			return false
		}
	}
	s.i++
	s.space()
	return s.i == len(b)
}

// Value returns where the JSON value that starts at b[i], after any space,
// ends, checked as Valid checks it, and whether it holds a number with an
// exponent (outside its strings); false if no valid value starts there.
// depth is how many arrays and objects enclose the value: they count
// toward the nesting encoding/json allows.
func Value(b []byte, i, depth int) (end int, exponent, ok bool) {
	s := scanner{b: b, i: i, depth: depth}
	s.space()
	if !s.value() {
		return 0, false, false
	}
	return s.i, s.exponent, true
}

// scanner reads through b from i; depth counts the objects and arrays it
// is in; exponent is set once it passed a number with an exponent.
type scanner struct {
	b        []byte
	i        int
	depth    int
	exponent bool
}

// next is the byte at i, or 0 at the end: no JSON value or delimiter.
func (s *scanner) next() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) space() {
	b, i := s.b, s.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	s.i = i
}

// value moves past the value at i; false if there is none.
func (s *scanner) value() bool {
	switch c := s.next(); {
	case c == '"':
		return s.string()
	case c == '{':
		return s.container('}')
	case c == '[':
		return s.container(']')
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || isDigit(c):
		return s.number()
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// container moves past the object or array at i, which ends with end.
func (s *scanner) container(end byte) bool {
	if s.depth++; s.depth > maxDepth {
		return false
	}
	s.i++
	s.space()
	if s.next() == end {
		s.i++
		s.depth--
		return true
	}
	for {
		if end == '}' { // a member's name and colon before its value
			if s.next() != '"' || !s.string() {
				return false
			}
			if s.space(); s.next() != ':' {
				return false
			}
			s.i++
			s.space()
		}
		if !s.value() {
			return false
		}
		s.space()
		switch s.next() {
		case ',':
			s.i++
			s.space()
		case end:
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// string moves past the string at i. It runs over every byte of every
// string, so it keeps its place in a local, which the compiler holds in a
// register, and tells plain bytes apart by one table lookup.
func (s *scanner) string() bool {
	b, i := s.b, s.i+1
	for i < len(b) {
		c := b[i]
		if plain[c] {
			i++
			continue
		}
		switch c {
		case '"':
			s.i = i + 1
			return true
		case '\\':
			s.i = i
			if !s.escape() {
				return false
			}
			i = s.i
		default: // a control character
			return false
		}
	}
	return false
}

// plain[c] reports whether byte c stands for itself inside a string: not
// a quote, a backslash or a control character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < len(t); c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape moves past the escape sequence at i.
func (s *scanner) escape() bool {
	if s.i+1 >= len(s.b) {
		return false
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
		if len(s.b)-s.i < 6 {
			return false
		}
		for _, h := range s.b[s.i+2 : s.i+6] {
			if !isDigit(h) && (h|0x20 < 'a' || h|0x20 > 'f') {
				return false
			}
		}
		s.i += 6
		return true
	}
	return false
}

// number moves past the number at i.
func (s *scanner) number() bool {
	if s.next() == '-' {
		s.i++
	}
	switch c := s.next(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.next() == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if c := s.next(); c == 'e' || c == 'E' {
		s.exponent = true
		s.i++
		if c := s.next(); c == '+' || c == '-' {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// digits moves past the digits at i and says how many there were.
func (s *scanner) digits() int {
	b, start := s.b, s.i
	i := start
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	s.i = i
	return i - start
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
