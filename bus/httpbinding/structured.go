package httpbinding

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/eventbus-go/eventbus/internal/cesource"
	"github.com/eventbus-go/eventbus/internal/jsonscan"
)

// AppendStructured appends e in the JSON event format, as the SDK's
// MarshalJSON writes it, for a batch body. A 1.0 event is written from its
// fields straight into dst; the SDK copies the event, and formats it
// through a pooled stream into a buffer of its own.
func AppendStructured(dst []byte, e *event.Event) ([]byte, error) {
	c, ok := e.Context.(*event.EventContextV1)
	if !ok {
		enc, err := e.MarshalJSON()
		return append(dst, enc...), err
	}
	dst = append(dst, `{"specversion":"1.0","id":`...)
	dst = AppendJSONString(dst, c.ID)
	dst = append(dst, `,"source":`...)
	dst = AppendJSONString(dst, cesource.Format(&c.Source))
	dst = append(dst, `,"type":`...)
	dst = AppendJSONString(dst, c.Type)
	if c.Subject != nil {
		dst = append(dst, `,"subject":`...)
		dst = AppendJSONString(dst, *c.Subject)
	}
	if c.DataContentType != nil {
		dst = append(dst, `,"datacontenttype":`...)
		dst = AppendJSONString(dst, *c.DataContentType)
	}
	if c.DataSchema != nil {
		dst = append(dst, `,"dataschema":`...)
		dst = AppendJSONString(dst, c.DataSchema.String())
	}
	if c.Time != nil {
		dst = append(dst, `,"time":`...)
		dst = AppendJSONString(dst, c.Time.String())
	}
	if e.DataEncoded != nil {
		switch {
		case e.DataBase64:
			dst = append(dst, `,"data_base64":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, e.DataEncoded)
			dst = append(dst, '"')
		case jsonData(c.DataContentType):
			dst = append(dst, `,"data":`...)
			dst = append(dst, e.DataEncoded...)
		default:
			dst = append(dst, `,"data":`...)
			dst = AppendJSONString(dst, string(e.DataEncoded))
		}
	}
	for _, name := range sortedNames(c.Extensions) {
		dst = append(dst, ',')
		dst = AppendJSONString(dst, name)
		dst = append(dst, ':')
		if s, ok := c.Extensions[name].(string); ok {
			dst = AppendJSONString(dst, s)
			continue
		}
		v, err := json.Marshal(c.Extensions[name])
		if err != nil {
			return dst, fmt.Errorf("extension %s: %w", name, err)
		}
		dst = append(dst, v...)
	}
	return append(dst, '}'), nil
}

// sortedNames returns the names of an event's extensions, sorted. Most
// events have none, and then it allocates nothing (ranging over an
// iterator of the map's keys did, even for none).
func sortedNames(exts map[string]any) []string {
	if len(exts) == 0 {
		return nil
	}
	names := make([]string, 0, len(exts))
	for name := range exts {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// jsonData reports whether data of this content type is written as JSON
// itself rather than as a string.
func jsonData(contentType *string) bool {
	if contentType == nil {
		return true
	}
	media, _, _ := strings.Cut(*contentType, ";")
	return jsonMedia(strings.ToLower(strings.TrimSpace(media)))
}

// AppendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced, as encoding/json does.
func AppendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c < 0x20:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, `\ufffd`...)
		} else {
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}

// A StructuredReader reads 1.0 events in the JSON format, one after
// another, when they have the shape nearly every producer writes: string
// attributes without escapes, each at most once, extensions with names
// the spec allows, and data that is JSON itself, with no number in
// exponent form. Read's ok is false for any other input, which the SDK's
// decoder must read, and explain if it is wrong.
//
// An event read is the one the SDK's decoder makes, in one pass that
// allocates only the attributes' values: the SDK's decoder reads every
// member name into a string of its own, and gathers extensions in a map
// before it knows the version. The events of one batch mostly share their
// source, type and content type, so a reader parses each of those once
// and gives the events after that repeat it the same value.
//
// The zero value is ready to use. A StructuredReader is not safe for
// concurrent use.
type StructuredReader struct {
	// The last source, type and content type read, as written and as
	// read.
	source      string
	sourceRef   types.URIRef
	typ         string
	contentType string
}

// Read reads one event from raw, a JSON object with only space around it.
// ok is true only where raw is valid JSON.
func (sr *StructuredReader) Read(raw []byte) (e *event.Event, ok bool) {
	e, end, ok := sr.ReadAt(raw, 0, 0)
	if !ok {
		return nil, false
	}
	r := jsonReader{b: raw, i: end}
	if r.skipSpace(); r.i != len(raw) {
		return nil, false
	}
	return e, true
}

// ReadAt reads one event from the JSON object that starts at b[i], after
// any space, and returns where the object ends. depth is how many arrays
// and objects enclose it (1 for an event of a batch), as encoding/json
// counts them toward the nesting it allows. It checks all it reads as
// jsonscan.Valid would: ok is true only where the object is valid JSON, so
// a caller need not check a batch before reading it. An event's data is
// a slice of b, not a copy.
func (sr *StructuredReader) ReadAt(b []byte, i, depth int) (e *event.Event, end int, ok bool) {
	r := jsonReader{b: b, i: i}
	if !r.consume('{') {
		return nil, 0, false
	}
	// One allocation for the event and its context.
	read := &struct {
		event   event.Event
		context event.EventContextV1
	}{}
	c := &read.context
	var seen uint16 // the memberBit of each member read
	var data []byte
	for first := true; !r.consume('}'); first = false {
		if !first && !r.consume(',') {
			return nil, 0, false
		}
		name, ok := r.plainBytes()
		if !ok || !r.consume(':') {
			return nil, 0, false
		}
		bit := memberBit(name)
		if seen&bit != 0 {
			return nil, 0, false // the SDK's decoder says which one counts, or refuses
		}
		seen |= bit
		if bit == dataBit {
			start := r.i // the SDK's decoder keeps the space before the value
			end, exponent, ok := jsonscan.Value(b, start, depth+1)
			if !ok || exponent {
				// The SDK's decoder (on json-iterator) refuses a number
				// out of float64's range: it should read the event, and
				// say so.
				return nil, 0, false
			}
			r.i = end
			// The request's own bytes, not a copy (the in-memory channel
			// copies its message, the live tail its events), capped so
			// that an append to one event's data cannot write into the
			// next event of a batch.
			data = b[start:end:end]
			continue
		}
		value, ok := r.plainBytes()
		if !ok || !sr.setMember(c, name, value) {
			return nil, 0, false
		}
	}
	if seen&specversionBit == 0 {
		return nil, 0, false
	}
	if data != nil {
		if mt, _ := c.GetDataMediaType(); !jsonMedia(mt) {
			return nil, 0, false // data as a string, escapes and all
		}
	}
	read.event = event.Event{Context: c, DataEncoded: data}
	return &read.event, r.i, true
}

// The members of an event object that a StructuredReader reads as more than
// an extension, each a bit, to see each at most once.
const (
	specversionBit uint16 = 1 << iota
	idBit
	sourceBit
	typeBit
	subjectBit
	timeBit
	datacontenttypeBit
	dataschemaBit
	dataBit
)

// memberBit is the bit of member name; 0 for an extension.
func memberBit(name []byte) uint16 {
	switch string(name) {
	case "specversion":
		return specversionBit
	case "id":
		return idBit
	case "source":
		return sourceBit
	case "type":
		return typeBit
	case "subject":
		return subjectBit
	case "time":
		return timeBit
	case "datacontenttype":
		return datacontenttypeBit
	case "dataschema":
		return dataschemaBit
	case "data":
		return dataBit
	}
	return 0
}

// setMember sets the attribute or extension name of c to value as the
// SDK's decoder does; false: the SDK's decoder should read the event.
func (sr *StructuredReader) setMember(c *event.EventContextV1, name, value []byte) bool {
	switch string(name) {
	case "specversion":
		return string(value) == event.CloudEventsVersionV1
	case "id":
		c.ID = string(value)
	case "type":
		if string(value) != sr.typ {
			sr.typ = string(value)
		}
		c.Type = sr.typ
	case "source":
		if string(value) != sr.source || sr.source == "" {
			v := string(value)
			u := types.ParseURIRef(v)
			if u == nil {
				return false
			}
			sr.source, sr.sourceRef = v, *u
		}
		c.Source = sr.sourceRef
	case "subject":
		if len(value) == 0 {
			return false // the SDK reads "" as absent, or not, by where specversion is
		}
		v := string(value)
		c.Subject = &v
	case "datacontenttype":
		if len(value) == 0 {
			return false // as subject
		}
		if string(value) != sr.contentType {
			sr.contentType = string(value)
		}
		v := sr.contentType
		c.DataContentType = &v
	case "time":
		t, err := types.ParseTimestamp(string(value))
		if err != nil || t == nil {
			return false
		}
		c.Time = t
	case "dataschema":
		if c.DataSchema = types.ParseURI(string(value)); c.DataSchema == nil {
			return false
		}
	case "schemaurl", "datacontentencoding":
		return false // the SDK's decoder reads these by where specversion is
	default:
		ext := string(name)
		if _, twice := c.Extensions[ext]; twice || CheckAttributeName(ext) != nil {
			return false
		}
		return c.SetExtension(ext, string(value)) == nil
	}
	return true
}

// jsonMedia reports whether the SDK writes and reads data of media type mt
// (lower case, without parameters) as the JSON it is, rather than as a
// string: its four JSON media types, and no type at all.
func jsonMedia(mt string) bool {
	switch mt {
	case "", event.ApplicationJSON, event.TextJSON, event.ApplicationCloudEventsJSON, event.ApplicationCloudEventsBatchJSON:
		return true
	}
	return false
}

// jsonReader reads through JSON, refusing what it cannot read.
type jsonReader struct {
	b []byte
	i int
}

func (r *jsonReader) skipSpace() {
	for r.i < len(r.b) && (r.b[r.i] == ' ' || r.b[r.i] == '\t' || r.b[r.i] == '\n' || r.b[r.i] == '\r') {
		r.i++
	}
}

// consume reads c, after any space, if it is next.
func (r *jsonReader) consume(c byte) bool {
	r.skipSpace()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// plainBytes reads a string without escapes, returning what is between
// its quotes; false if the next value is no string, has an escape, or
// holds a control character, which JSON does not allow in a string.
func (r *jsonReader) plainBytes() ([]byte, bool) {
	if !r.consume('"') {
		return nil, false
	}
	start := r.i
	for ; r.i < len(r.b); r.i++ {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			return r.b[start : r.i-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}
