package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// jsonKind is the type of one node of a decoded rule document.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonNode is a decoded JSON value that keeps object members in document
// order. Rules are parsed into it rather than into map[string]any so that
// "the first condition that failed" and error paths follow what the user
// wrote, and duplicate keys can be refused instead of silently dropped.
type jsonNode struct {
	kind    jsonKind
	b       bool
	num     float64
	text    string // the string value, or the number as written
	elems   []jsonNode
	members []jsonMember
}

type jsonMember struct {
	key string
	val jsonNode
}

// parseJSONTree decodes doc, refusing nesting deeper than maxDepth, duplicate
// object keys and trailing data.
func parseJSONTree(doc []byte, maxDepth int) (jsonNode, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	n, err := decodeNode(dec, 0, maxDepth)
	if err != nil {
		return jsonNode{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jsonNode{}, errors.New("unexpected data after the JSON value")
	}
	return n, nil
}

func decodeNode(dec *json.Decoder, depth, maxDepth int) (jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return jsonNode{}, errors.New("unexpected end of JSON")
		}
		return jsonNode{}, err
	}
	switch t := tok.(type) {
	case nil:
		return jsonNode{kind: jsonNull}, nil
	case bool:
		return jsonNode{kind: jsonBool, b: t}, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return jsonNode{}, fmt.Errorf("number %s is out of range", t)
		}
		return jsonNode{kind: jsonNumber, num: f, text: string(t)}, nil
	case string:
		return jsonNode{kind: jsonString, text: t}, nil
	case json.Delim:
		if depth >= maxDepth {
			return jsonNode{}, fmt.Errorf("nested deeper than %d levels", maxDepth)
		}
		if t == '[' {
			n := jsonNode{kind: jsonArray, elems: []jsonNode{}}
			for dec.More() {
				e, err := decodeNode(dec, depth+1, maxDepth)
				if err != nil {
					return jsonNode{}, err
				}
				n.elems = append(n.elems, e)
			}
			_, err := dec.Token() // the closing ']'
			return n, err
		}
		n := jsonNode{kind: jsonObject, members: []jsonMember{}}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return jsonNode{}, err
			}
			key := kt.(string) // the decoder guarantees object keys are strings
			if seen[key] {
				return jsonNode{}, fmt.Errorf("duplicate key %q", key)
			}
			seen[key] = true
			v, err := decodeNode(dec, depth+1, maxDepth)
			if err != nil {
				return jsonNode{}, err
			}
			n.members = append(n.members, jsonMember{key: key, val: v})
		}
		_, err := dec.Token() // the closing '}'
		return n, err
	}
	return jsonNode{}, fmt.Errorf("unexpected JSON token %v", tok)
}

// String renders the node as compact JSON, for error messages and
// explanations.
func (n jsonNode) String() string {
	var b bytes.Buffer
	n.write(&b)
	return b.String()
}

func (n jsonNode) write(b *bytes.Buffer) {
	switch n.kind {
	case jsonNull:
		b.WriteString("null")
	case jsonBool:
		b.WriteString(strconv.FormatBool(n.b))
	case jsonNumber:
		b.WriteString(n.text)
	case jsonString:
		b.WriteString(quoteJSON(n.text))
	case jsonArray:
		b.WriteByte('[')
		for i, e := range n.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	case jsonObject:
		b.WriteByte('{')
		for i, m := range n.members {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quoteJSON(m.key))
			b.WriteByte(':')
			m.val.write(b)
		}
		b.WriteByte('}')
	}
}

// quoteJSON writes s as a JSON string without HTML escaping, so that
// messages show "<" rather than "\u003c".
func quoteJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func (k jsonKind) String() string {
	switch k {
	case jsonNull:
		return "null"
	case jsonBool:
		return "a boolean"
	case jsonNumber:
		return "a number"
	case jsonString:
		return "a string"
	case jsonArray:
		return "an array"
	default:
		return "an object"
	}
}
