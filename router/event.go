package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/eventbus-go/eventbus/internal/cesource"
)

// Event is one event as rules see it: the CloudEvents context attributes and
// extensions at the top level, with the values they have in the CloudEvents
// JSON format (time as an RFC 3339 string, integer extensions as numbers,
// booleans as booleans), and the payload under "data".
//
// JSON data is decoded once, on first use, however many rules read it; data
// that is not JSON (data_base64, or a non-JSON datacontenttype) only counts
// as present, so only exists can match it. An Event may be matched from
// several goroutines at once.
type Event struct {
	// The attributes: read on demand from an SDK event's context (NewEvent),
	// or decoded into attrs (ParseEventJSON).
	sdkContext *event.EventContextV1
	attrs      map[string]any // JSON scalars, or any JSON value

	hasData  bool
	dataJSON []byte // the payload when it is JSON, decoded lazily into data
	dataOnce sync.Once
	data     any

	// The SDK form of the event, which CloudEvents SQL filters evaluate:
	// given to NewEvent, or built on first use for ParseEventJSON.
	sdkOnce  sync.Once
	sdkEvent *event.Event
}

// contextAttributes are the attributes that CloudEvents defines as strings
// (or string forms of URIs and timestamps).
var contextAttributes = []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema"}

// NewEvent adapts an SDK event. It keeps references to e's data: do not
// modify e while the Event is in use.
func NewEvent(e *event.Event) *Event {
	ev := &Event{sdkEvent: e}
	switch c := e.Context.(type) {
	case nil:
		ev.attrs = map[string]any{}
	case *event.EventContextV1:
		ev.sdkContext = c
	default:
		ev.sdkContext = c.AsV1()
	}
	if e.DataEncoded != nil {
		ev.hasData = true
		if !e.DataBase64 && isJSONMediaType(e.DataContentType()) {
			ev.dataJSON = e.DataEncoded
		}
	}
	return ev
}

// attr returns a context attribute or extension by name, as its JSON-format
// value.
func (e *Event) attr(name string) (any, bool) {
	c := e.sdkContext
	if c == nil {
		v, ok := e.attrs[name]
		return v, ok
	}
	if v, ok, known := e.stringAttr(name); known {
		if !ok {
			return nil, false
		}
		return v, true
	}
	switch name {
	case "specversion":
		return c.GetSpecVersion(), true
	case "time":
		if c.Time == nil {
			return nil, false
		}
		return c.Time.String(), true
	case "dataschema":
		if c.DataSchema == nil {
			return nil, false
		}
		return c.DataSchema.String(), true
	}
	v, ok := c.Extensions[name]
	if !ok {
		return nil, false
	}
	return extensionValue(v), true
}

// stringAttr is attr for the context attributes that are strings as
// read, returned without the interface attr boxes them in (an allocation
// each, on the matcher's path). known is false for any other name, and
// for an event without a decoded context: attr answers those.
func (e *Event) stringAttr(name string) (v string, ok, known bool) {
	c := e.sdkContext
	if c == nil {
		return "", false, false
	}
	switch name {
	case "id":
		return c.ID, true, true
	case "source":
		return cesource.Format(&c.Source), true, true
	case "type":
		return c.Type, true, true
	case "subject":
		v, ok := derefString(c.Subject)
		return v, ok, true
	case "datacontenttype":
		v, ok := derefString(c.DataContentType)
		return v, ok, true
	}
	return "", false, false
}

func derefString(s *string) (string, bool) {
	if s == nil {
		return "", false
	}
	return *s, true
}

// extensionValue converts an SDK extension value to its JSON-format value:
// integers are numbers, booleans are booleans, everything else is its
// canonical string.
func extensionValue(v any) any {
	switch v := v.(type) {
	case int32:
		return float64(v)
	case bool, string:
		return v
	}
	s, err := types.Format(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

// ParseEventJSON reads an event written as a JSON object with the
// attributes at the top level and the payload under "data", as in a
// structured-mode CloudEvent. Unlike a CloudEvent it need not carry id or
// specversion, so that test-pattern accepts a hand-written sample; values
// are taken as they are, without CloudEvents validation.
func ParseEventJSON(doc []byte) (*Event, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(doc, &members); err != nil {
		return nil, fmt.Errorf("event must be a JSON object such as {\"type\": \"order.created\", \"data\": {...}}: %w", err)
	}
	if members == nil {
		return nil, errors.New(`event must be a JSON object such as {"type": "order.created", "data": {...}}, not null`)
	}
	ev := &Event{attrs: make(map[string]any, len(members))}
	for name, raw := range members {
		switch name {
		case "data":
			ev.hasData = true
			ev.dataJSON = raw
		case "data_base64":
			ev.hasData = true
		default:
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("event attribute %q: %w", name, err)
			}
			if v == nil {
				continue // a null attribute is an absent one
			}
			ev.attrs[name] = v
		}
	}
	for _, name := range contextAttributes {
		if v, ok := ev.attrs[name]; ok {
			if _, isString := v.(string); !isString {
				return nil, fmt.Errorf("event attribute %q must be a string, not %s", name, raw(members[name]))
			}
		}
	}
	if _, ok := members["data_base64"]; ok {
		ev.dataJSON = nil
	}
	if ct, ok := ev.attrs["datacontenttype"].(string); ok && !isJSONMediaType(ct) {
		// A text payload in structured mode is a JSON string, but it is
		// the payload's text, not a JSON value: treat it as opaque like
		// any other non-JSON data.
		ev.dataJSON = nil
	}
	return ev, nil
}

func raw(b json.RawMessage) string { return string(b) }

// isJSONMediaType reports whether a datacontenttype denotes JSON. As in the
// CloudEvents JSON format, an absent content type means JSON.
func isJSONMediaType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "" || mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// value returns the top-level field name: an attribute, or the payload
// for "data". ok is false when the event has no such field.
func (e *Event) value(name string) (v any, ok bool) {
	if name == "data" {
		if !e.hasData {
			return nil, false
		}
		return e.payload(), true
	}
	return e.attr(name)
}

// payload decodes JSON data on first use. Data that is not JSON, or JSON
// that does not decode, is opaque.
func (e *Event) payload() any {
	e.dataOnce.Do(func() {
		e.data = opaque{}
		if e.dataJSON == nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(e.dataJSON))
		var v any
		if err := dec.Decode(&v); err == nil && !dec.More() {
			e.data = v
		}
	})
	return e.data
}

// attributeString returns a context attribute or extension in its
// canonical string form, as the Subscriptions API filters compare it.
func (e *Event) attributeString(name string) (string, bool) {
	v, ok := e.attr(name)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	b, err := json.Marshal(v)
	return string(b), err == nil
}

// cloudEvent returns the SDK form of the event for CloudEvents SQL. For an
// event read by ParseEventJSON it is built from the attributes on first
// use; attributes the SDK refuses (such as an extension whose name is not
// lower-case alphanumeric) are left out, so SQL sees them as missing.
func (e *Event) cloudEvent() event.Event {
	e.sdkOnce.Do(func() {
		if e.sdkEvent != nil {
			return
		}
		ce := event.New()
		for name, v := range e.attrs {
			s, _ := e.attributeString(name)
			switch name {
			case "specversion":
				ce.SetSpecVersion(s)
			case "id":
				ce.SetID(s)
			case "source":
				ce.SetSource(s)
			case "type":
				ce.SetType(s)
			case "subject":
				ce.SetSubject(s)
			case "datacontenttype":
				ce.SetDataContentType(s)
			case "dataschema":
				ce.SetDataSchema(s)
			case "time":
				if t, err := types.ParseTime(s); err == nil {
					ce.SetTime(t)
				}
			default:
				_ = ce.Context.SetExtension(name, sqlValue(v, s))
			}
		}
		e.sdkEvent = &ce
	})
	return *e.sdkEvent
}

// sqlValue is an extension's value as CloudEvents SQL types it: integers
// (that fit in 32 bits) as integers, booleans as booleans, the rest as
// strings.
func sqlValue(v any, s string) any {
	switch v := v.(type) {
	case bool:
		return v
	case float64:
		if v == math.Trunc(v) && v >= math.MinInt32 && v <= math.MaxInt32 {
			return int32(v)
		}
	}
	return s
}
