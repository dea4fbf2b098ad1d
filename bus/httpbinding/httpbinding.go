// Package httpbinding is the CloudEvents HTTP binding as eventbus writes
// it to HTTP targets, and reads it from producers in binary mode. In binary
// mode every context attribute and extension travels as a "ce-" header,
// datacontenttype as Content-Type, and data as the body; header values are
// percent-encoded where HTTP needs it. AppendStructured writes an event in
// the JSON format, as a batch request carries it; a StructuredReader reads the
// shape of that format nearly every producer writes, and leaves the rest
// to the SDK's decoder. Errors of the binary-mode Read are
// *spec.FieldError naming the attribute at fault.
package httpbinding

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	cespec "github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/eventbus-go/eventbus/internal/cesource"
	"github.com/eventbus-go/eventbus/spec"
)

// HeaderPrefix starts every CloudEvents header, in its canonical form.
const HeaderPrefix = "Ce-"

// headerAttributes maps the canonical header keys of the context attributes
// to their names, sparing a lower-casing per header on every request.
var headerAttributes = map[string]string{
	"Ce-Id": "id", "Ce-Source": "source", "Ce-Type": "type", "Ce-Subject": "subject",
	"Ce-Time": "time", "Ce-Dataschema": "dataschema", "Ce-Datacontenttype": "datacontenttype",
}

// Read builds an event from a binary-mode request's headers and body.
// Errors name the header at fault.
func Read(h http.Header, body []byte) (*event.Event, error) {
	sv := h.Get("Ce-Specversion")
	if sv == "" {
		return nil, fieldError("specversion", "is required: set the ce-specversion header to 1.0")
	}
	if sv != event.CloudEventsVersionV1 {
		return nil, fieldError("specversion", "%q is not supported: this bus accepts CloudEvents 1.0", sv)
	}
	version := cespec.V1
	e := event.New(sv)
	for key, values := range h {
		if !strings.HasPrefix(key, HeaderPrefix) || key == "Ce-Specversion" {
			continue
		}
		name, known := headerAttributes[key]
		if !known {
			name = strings.ToLower(key[len(HeaderPrefix):])
		}
		if err := CheckAttributeName(name); err != nil {
			return nil, fieldError(name, "header %s: %v", key, err)
		}
		value, err := percentDecode(values[0])
		if err != nil {
			return nil, fieldError(name, "header %s: %v", key, err)
		}
		if name == "datacontenttype" {
			return nil, fieldError(name, "header %s: in binary mode datacontenttype travels as the Content-Type header", key)
		}
		switch name {
		// The attributes every event has, set as the SDK's attribute
		// table would, without boxing each value in an interface.
		case "id":
			err = e.Context.SetID(value)
		case "source":
			err = e.Context.SetSource(value)
		case "type":
			err = e.Context.SetType(value)
		default:
			if attr := version.Attribute(name); attr != nil {
				err = attr.Set(e.Context, value)
			} else {
				err = e.Context.SetExtension(name, value)
			}
		}
		if err != nil {
			return nil, fieldError(name, "header %s: %v", key, err)
		}
	}
	if ct := h.Get("Content-Type"); ct != "" {
		if err := e.Context.SetDataContentType(ct); err != nil {
			return nil, fieldError("datacontenttype", "Content-Type: %v", err)
		}
	}
	if len(body) > 0 {
		e.DataEncoded = body
	}
	return &e, nil
}

// attributeHeaders are the canonical header keys of the CloudEvents 1.0
// context attributes, in cespec.V1.Attributes() order, made once rather
// than per event.
var attributeHeaders = func() []string {
	attrs := cespec.V1.Attributes()
	keys := make([]string, len(attrs))
	for i, attr := range attrs {
		keys[i] = http.CanonicalHeaderKey(HeaderPrefix + attr.Name())
		if attr.Kind() == cespec.DataContentType {
			keys[i] = "Content-Type"
		}
	}
	return keys
}()

// Header is where Write sets headers: net/http's http.Header, or the
// header of another client's request. Write gives its keys as net/http
// spells them; both clients take any spelling.
type Header interface {
	Set(key, value string)
}

// Write sets the binary-mode headers of e on h; the caller sends
// e.Data() as the body.
func Write(h Header, e *event.Event) error {
	if c, ok := e.Context.(*event.EventContextV1); ok {
		writeV1(h, c)
	} else if err := writeAttributes(h, e); err != nil {
		return err
	}
	for name, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			return fmt.Errorf("extension %s: %w", name, err)
		}
		h.Set(extensionHeader(name), percentEncode(s))
	}
	return nil
}

// writeV1 sets the headers of a 1.0 context's attributes, as
// writeAttributes would, reading its fields directly rather than boxing
// each through the SDK's attribute accessors.
func writeV1(h Header, c *event.EventContextV1) {
	h.Set("Ce-Specversion", event.CloudEventsVersionV1)
	h.Set("Ce-Id", percentEncode(c.ID))
	h.Set("Ce-Source", percentEncode(cesource.Format(&c.Source)))
	h.Set("Ce-Type", percentEncode(c.Type))
	if c.Subject != nil {
		h.Set("Ce-Subject", percentEncode(*c.Subject))
	}
	if c.Time != nil && !c.Time.IsZero() { // a zero time is no time, as the SDK reads it
		h.Set("Ce-Time", percentEncode(types.FormatTime(c.Time.Time)))
	}
	if c.DataContentType != nil {
		h.Set("Content-Type", *c.DataContentType)
	}
	if c.DataSchema != nil {
		h.Set("Ce-Dataschema", percentEncode(c.DataSchema.String()))
	}
}

// writeAttributes sets the headers of e's context attributes.
func writeAttributes(h Header, e *event.Event) error {
	for i, attr := range cespec.V1.Attributes() {
		v := attr.Get(e.Context)
		if v == nil {
			continue
		}
		s, err := types.Format(v)
		if err != nil {
			return fmt.Errorf("attribute %s: %w", attr.Name(), err)
		}
		if attr.Kind() == cespec.DataContentType {
			h.Set(attributeHeaders[i], s)
			continue
		}
		h.Set(attributeHeaders[i], percentEncode(s))
	}
	return nil
}

// extensionHeader is the canonical header key of an extension: its name
// is lower-case letters and digits (CheckAttributeName), so only its
// first letter changes case.
func extensionHeader(name string) string {
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		return HeaderPrefix + name
	}
	return HeaderPrefix + string(name[0]-'a'+'A') + name[1:]
}

// CheckAttributeName enforces the CloudEvents naming rule: lower-case ASCII
// letters and digits only.
func CheckAttributeName(name string) error {
	if name == "" {
		return fmt.Errorf("attribute name is empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return fmt.Errorf("attribute name %q must be lower-case letters a-z and digits 0-9 only", name)
		}
	}
	return nil
}

// needsEscape reports whether the binding requires c to be percent-encoded:
// space, double quote, percent, and anything outside printable ASCII.
func needsEscape(c byte) bool {
	return c <= ' ' || c == '"' || c == '%' || c > '~'
}

func percentEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// percentDecode decodes a header's value. The value it decodes to must be
// UTF-8, as every CloudEvents string is, whether its bytes came
// percent-encoded or raw.
func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		if !utf8.ValidString(s) {
			return "", fmt.Errorf("value %q is not UTF-8: percent-encode its UTF-8 bytes", s)
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", fmt.Errorf("bad percent-encoding in %q", s)
		}
		b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
		i += 2
	}
	if !utf8.ValidString(b.String()) {
		return "", fmt.Errorf("percent-encoded value %q is not UTF-8", s)
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// fieldError reports bad input in one attribute.
func fieldError(attribute, format string, args ...any) *spec.FieldError {
	return &spec.FieldError{Path: attribute, Message: fmt.Sprintf(format, args...)}
}
