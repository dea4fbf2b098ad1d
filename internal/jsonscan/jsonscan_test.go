package jsonscan

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
)

// Valid answers as encoding/json does, for any input; EachElement, reading
// each element with Value, finds the elements encoding/json finds in an
// array, and refuses what is not one.
func FuzzValid(f *testing.F) {
	for _, seed := range []string{
		`{"a":[1,2e5,"\u00e9",{"b":null}],"c":true,"d":false}`,
		`[1, -0.5, -0, 0.0e+1, 1E-2, 10, "x\"y\\z\/", {}, []]`,
		" \t\r\n\"\\ud800\\b\\f\\n\\r\\t\" ",
		"\"\xff\xfe invalid utf-8\"", "\"\x1f\"", `"\x"`, `"\u12g4"`, `"\u12"`,
		`01`, `-`, `1.`, `1e`, `.5`, `+1`, `1e+`, `--1`,
		`{"a" 1}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{1:2}`, `[1 2]`, `{"a":1}}`,
		`tru`, `nul`, `falsey`, `true false`, ``, ` `, `"`, `[`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Errorf("Valid(%q) = %t, encoding/json says %t", b, got, want)
		}
		var want []json.RawMessage
		isArray := json.Unmarshal(b, &want) == nil && bytes.TrimSpace(b)[0] == '[' // null unmarshals too
		var got [][]byte
		ok := EachElement(b, func(start int) (int, bool) {
			end, _, ok := Value(b, start, 1)
			if ok {
				got = append(got, b[start:end])
			}
			return end, ok
		})
		if ok != isArray {
			t.Fatalf("EachElement(%q) ok %t, encoding/json reads an array: %t", b, ok, isArray)
		}
		if !ok {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("EachElement(%q) found %d elements, encoding/json %d", b, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("EachElement(%q) element %d is %q, encoding/json says %q", b, i, got[i], want[i])
			}
		}
	})
}

// Values nest as deep as encoding/json lets them, and no deeper.
func TestValidNestsAsDeepAsEncodingJSON(t *testing.T) {
	for _, depth := range []int{maxDepth - 1, maxDepth, maxDepth + 1, 3 * maxDepth} {
		arrays := append(bytes.Repeat([]byte("["), depth), bytes.Repeat([]byte("]"), depth)...)
		objects := append(append(bytes.Repeat([]byte(`{"a":`), depth), '1'), bytes.Repeat([]byte("}"), depth)...)
		for _, b := range [][]byte{arrays, objects} {
			if got, want := Valid(b), json.Valid(b); got != want {
				t.Errorf("%.8s… nested %d deep: Valid says %t, encoding/json %t", b, depth, got, want)
			}
			if b[0] != '[' {
				continue
			}
			inner := EachElement(b, func(start int) (int, bool) {
				end, _, ok := Value(b, start, 1)
				return end, ok
			})
			if want := json.Valid(b); inner != want {
				t.Errorf("%.8s… nested %d deep: EachElement says %t, encoding/json %t", b, depth, inner, want)
			}
		}
	}
}

// Value tells a number with an exponent from one without, outside strings
// only.
func TestValueSaysWhetherANumberHasAnExponent(t *testing.T) {
	for raw, want := range map[string]bool{
		`1`: false, `-1.5`: false, `"1e5"`: false, `{"e":"E"}`: false, `[true,null]`: false,
		`1e5`: true, `-2.5E-3`: true, `{"a":[0,1e+2]}`: true, `["x",3E0]`: true,
	} {
		b := []byte(" " + raw + " ,")
		end, exponent, ok := Value(b, 0, 0)
		if !ok || end != len(raw)+1 || exponent != want {
			t.Errorf("Value(%q) = %d, exponent %t, %t; want %d, %t, true", b, end, exponent, ok, len(raw)+1, want)
		}
	}
}

// BenchmarkValid checks a batch of 100 CloudEvents with Valid and with
// encoding/json's, to compare in one run.
func BenchmarkValid(b *testing.B) {
	body := []byte{'['}
	for i := range 100 {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"specversion":"1.0","id":"op-`+strconv.Itoa(i)+`","source":"/bench/producer","type":"com.example.bench","datacontenttype":"application/json","data":{"order":"A-100234","customer":"c-42","amount":1999,"currency":"EUR","items":3,"note":"bench\npayload \u00e9"}}`...)
	}
	body = append(body, ']')
	for name, valid := range map[string]func([]byte) bool{"jsonscan": Valid, "encoding-json": json.Valid} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !valid(body) {
					b.Fatal("the batch is valid JSON")
				}
			}
		})
	}
}
