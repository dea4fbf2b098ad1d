package httpbinding

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
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
	dst = AppendJSONString(dst, c.Source.String())
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
	for _, name := range slices.Sorted(maps.Keys(c.Extensions)) {
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

// jsonData reports whether data of this content type is written as JSON
// itself rather than as a string: the SDK's four JSON media types, and no
// type at all.
func jsonData(contentType *string) bool {
	if contentType == nil {
		return true
	}
	media, _, _ := strings.Cut(*contentType, ";")
	switch strings.ToLower(strings.TrimSpace(media)) {
	case "", event.ApplicationJSON, event.TextJSON, event.ApplicationCloudEventsJSON, event.ApplicationCloudEventsBatchJSON:
		return true
	}
	return false
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
