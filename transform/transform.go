package transform

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/itchyny/gojq"
)

// MaxRunTime bounds one run of a program: a program that loops is stopped
// and the event dead-lettered.
const MaxRunTime = time.Second

// MaxOutputBytes bounds the event a program makes, in CloudEvents JSON.
const MaxOutputBytes = 1 << 20

// MaxProgramBytes bounds a program's source.
const MaxProgramBytes = 16 << 10

// Program is a compiled transform, safe for concurrent use.
type Program struct {
	code *gojq.Code
}

// SyntaxError is a program that does not compile, with where.
type SyntaxError struct {
	Line, Column int // 1-based; 0 when the compiler does not say
	Message      string
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// Compile parses and compiles a jq program. Errors are *SyntaxError.
func Compile(src string) (*Program, error) {
	if len(src) > MaxProgramBytes {
		return nil, &SyntaxError{Message: fmt.Sprintf("is %d bytes; a transform has at most %d", len(src), MaxProgramBytes)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &SyntaxError{Message: "is empty: write a jq program, such as .data |= {email: .email}"}
	}
	q, err := gojq.Parse(src)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			line, col := position(src, pe.Offset)
			return nil, &SyntaxError{Line: line, Column: col, Message: err.Error()}
		}
		return nil, &SyntaxError{Message: err.Error()}
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil }))
	if err != nil {
		return nil, &SyntaxError{Message: err.Error()}
	}
	return &Program{code: code}, nil
}

// position turns a byte offset into a 1-based line and column.
func position(src string, offset int) (line, col int) {
	offset = min(max(offset, 0), len(src))
	before := src[:offset]
	line = strings.Count(before, "\n") + 1
	col = offset - strings.LastIndexByte(before, '\n')
	return line, col
}

// Error is a run of a program that yielded no event to deliver.
type Error struct{ Message string }

func (e *Error) Error() string { return "transform: " + e.Message }

func runErrorf(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// Apply runs the program on e. It returns the event to deliver, or nil
// when the program made none (the event is dropped), or an *Error.
func (p *Program) Apply(ctx context.Context, e *event.Event) (*event.Event, error) {
	in, err := toValue(e)
	if err != nil {
		return nil, runErrorf("the event is not valid JSON: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, MaxRunTime)
	defer cancel()
	iter := p.code.RunWithContext(ctx, in)
	first, ok := iter.Next()
	if !ok {
		return nil, nil
	}
	if err, isErr := first.(error); isErr {
		return nil, runError(ctx, err)
	}
	if second, more := iter.Next(); more {
		if err, isErr := second.(error); isErr {
			return nil, runError(ctx, err)
		}
		return nil, runErrorf("the program made more than one event; a route delivers one per event")
	}
	out, isObject := first.(map[string]any)
	if !isObject {
		return nil, runErrorf("the program made %s, not an object: it must output the event to deliver", gojq.TypeOf(first))
	}
	for _, attr := range []string{"specversion", "id", "source", "type"} {
		if _, set := out[attr]; !set {
			out[attr] = in.(map[string]any)[attr]
		}
	}
	doc, err := gojq.Marshal(out)
	if err != nil {
		return nil, runErrorf("cannot encode its output: %v", err)
	}
	if len(doc) > MaxOutputBytes {
		return nil, runErrorf("the event it made is %d bytes; at most %d", len(doc), MaxOutputBytes)
	}
	result := event.New()
	if err := json.Unmarshal(doc, &result); err != nil {
		return nil, runErrorf("its output is not a CloudEvent: %v", err)
	}
	if err := result.Validate(); err != nil {
		return nil, runErrorf("its output is not a valid CloudEvent: %v", err)
	}
	return &result, nil
}

// Try compiles src and runs it on an event given in CloudEvents JSON, to
// try a transform out (eventbus test-pattern --transform). It returns the
// event made, in CloudEvents JSON, or nil when the program made none.
// Errors are a *SyntaxError, an *Error, or the event's own problem.
func Try(ctx context.Context, src string, eventDoc []byte) (json.RawMessage, error) {
	p, err := Compile(src)
	if err != nil {
		return nil, err
	}
	e := event.New()
	if err := json.Unmarshal(eventDoc, &e); err != nil {
		return nil, fmt.Errorf("to try a transform, give a whole CloudEvent: %w", err)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("to try a transform, give a whole CloudEvent: %w", err)
	}
	out, err := p.Apply(ctx, &e)
	if err != nil || out == nil {
		return nil, err
	}
	return json.Marshal(out)
}

// runError names why a run failed: too long, or the program's own error.
func runError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return runErrorf("the program ran longer than %v", MaxRunTime)
	}
	return runErrorf("%v", err)
}

// toValue turns e into the value a jq program reads: its CloudEvents JSON,
// numbers kept exact (integers as int or *big.Int). The data is a JSON
// value when it is JSON, a string when it is text, else data_base64.
func toValue(e *event.Event) (any, error) {
	attrs := e.Clone()
	attrs.DataEncoded, attrs.DataBase64 = nil, false
	doc, err := json.Marshal(attrs)
	if err != nil {
		return nil, err
	}
	v, err := decodeExact(doc)
	if err != nil {
		return nil, err
	}
	m := v.(map[string]any)
	data := e.Data()
	switch {
	case data == nil:
	case isJSON(e.DataContentType()) && json.Valid(data):
		if m["data"], err = decodeExact(data); err != nil {
			return nil, err
		}
	case utf8.Valid(data):
		m["data"] = string(data)
	default:
		m["data_base64"] = base64.StdEncoding.EncodeToString(data)
	}
	return m, nil
}

// isJSON reports whether a datacontenttype is JSON; none counts as JSON,
// as in CloudEvents.
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == "" || mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// decodeExact decodes a JSON document with its numbers exact.
func decodeExact(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return normalize(v), nil
}

// normalize replaces json.Numbers with the numbers gojq computes with.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = normalize(x)
		}
	case []any:
		for i, x := range v {
			v[i] = normalize(x)
		}
	case json.Number:
		if i, err := v.Int64(); err == nil && int64(int(i)) == i {
			return int(i)
		}
		if !strings.ContainsAny(string(v), ".eE") {
			if b, ok := new(big.Int).SetString(string(v), 10); ok {
				return b
			}
		}
		f, _ := v.Float64()
		return f
	}
	return v
}
