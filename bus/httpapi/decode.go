package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/bus/httpbinding"
	"github.com/eventbus-go/eventbus/internal/jsonscan"
	"github.com/eventbus-go/eventbus/spec"
)

// The media types of CloudEvents' JSON formats.
const (
	mediaStructured = "application/cloudevents+json"
	mediaBatch      = "application/cloudevents-batch+json"
)

// decoded is one event of a request, or why it could not be read. Reading
// checks the form of the request; package bus validates the events.
type decoded struct {
	event *event.Event
	err   *apiError
	// id and source, as far as they could be read, to label an error.
	id, source string
}

// readBody reads at most limit bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	var body []byte
	var err error
	if n := r.ContentLength; n >= 0 && n <= limit {
		// The usual case: one allocation of the announced size.
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	if err == nil {
		return body, nil
	}
	var tooLarge *http.MaxBytesError // declared here: errors.As moves it to the heap
	if errors.As(err, &tooLarge) {
		return nil, bodyTooLarge(limit)
	}
	return nil, readFailed(err)
}

// bodyTooLarge is the error of an ingress request whose body is over
// limit, max_body_bytes.
func bodyTooLarge(limit int64) *apiError {
	return &apiError{Code: codeTooLarge, status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("request body is over the %d-byte limit (max_body_bytes): send smaller events or split the batch", limit)}
}

// decodeRequest reads the events of a request in any of the three content
// modes. A request-level problem (unknown content type, a batch that is not
// an array) is the second result; a bad event in a batch only marks itself.
func decodeRequest(h http.Header, body []byte) ([]decoded, *apiError) {
	ct := h.Get("Content-Type")
	var media string
	if strings.HasPrefix(strings.ToLower(ct), "application/cloudevents") {
		media, _, _ = mime.ParseMediaType(ct) // only the CloudEvents formats need it
	}
	switch {
	case media == mediaStructured:
		return []decoded{decodeStructured(body)}, nil
	case media == mediaBatch:
		return decodeBatch(body)
	case strings.HasPrefix(media, "application/cloudevents"):
		return nil, &apiError{Code: codeUnsupportedMedia, status: http.StatusUnsupportedMediaType,
			Message: fmt.Sprintf("event format %q is not supported: use %s or %s", media, mediaStructured, mediaBatch)}
	case hasCloudEventsHeaders(h):
		e, err := httpbinding.Read(h, body)
		if err != nil {
			return []decoded{{err: asAPIError(err), id: h.Get("Ce-Id"), source: h.Get("Ce-Source")}}, nil
		}
		return []decoded{{event: e}}, nil
	}
	if ct == "" {
		ct = "none"
	}
	return nil, &apiError{Code: codeUnsupportedMedia, status: http.StatusUnsupportedMediaType,
		Message: fmt.Sprintf("content type %q carries no CloudEvent: send ce-* headers (binary mode), %s (structured) or %s (batch)", ct, mediaStructured, mediaBatch)}
}

func hasCloudEventsHeaders(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, httpbinding.HeaderPrefix) {
			return true
		}
	}
	return false
}

// asAPIError reports a binding error: the attribute at fault, or the
// request as a whole.
func asAPIError(err error) *apiError {
	var fe *spec.FieldError
	if errors.As(err, &fe) {
		return fieldErrorf(fe.Path, "%s", fe.Message)
	}
	return fieldErrorf("", "%v", err)
}

// decodeBatch reads the events of a batch, a JSON array of events in the
// JSON format, checking each as it reads it: in the shape nearly every
// producer writes, by one StructuredReader for the batch, whose events
// share what they repeat; any other element is checked on its own and read
// by the SDK's decoder.
func decodeBatch(body []byte) ([]decoded, *apiError) {
	// The elements are not counted first: a guess from the body's size,
	// as events are mostly a few hundred bytes, bounded so that a body of
	// small ones costs no more than growing would.
	out := make([]decoded, 0, min(len(body)/128+1, 1024))
	var sr httpbinding.StructuredReader
	isArray := jsonscan.EachElement(body, func(start int) (int, bool) {
		if e, end, ok := sr.ReadAt(body, start, 1); ok {
			out = append(out, decoded{event: e})
			return end, true
		}
		end, _, ok := jsonscan.Value(body, start, 1)
		if ok {
			out = append(out, decodeOtherStructured(body[start:end]))
		}
		return end, ok
	})
	if !isArray {
		return nil, fieldErrorf("", "a batch must be a JSON array of structured CloudEvents: %v", notABatch(body))
	}
	if len(out) == 0 {
		return nil, fieldErrorf("", "the batch holds no events")
	}
	return out, nil
}

// notABatch says why body, which is no JSON array, is not: where its JSON
// breaks, or what kind of JSON it is.
func notABatch(body []byte) error {
	if !jsonscan.Valid(body) {
		var items []json.RawMessage
		return json.Unmarshal(body, &items) // says where the JSON breaks
	}
	return fmt.Errorf("the body is a JSON %s", jsonKind(bytes.TrimLeft(body, " \t\r\n")[0]))
}

// jsonKind names the kind of JSON value that starts with c.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// decodeStructured reads one event in the JSON format: in the shape nearly
// every producer writes, by a StructuredReader, which checks it as it
// reads; otherwise it is checked, and read by the SDK's decoder.
func decodeStructured(raw []byte) decoded {
	var sr httpbinding.StructuredReader
	if e, ok := sr.Read(raw); ok {
		return decoded{event: e}
	}
	if !jsonscan.Valid(raw) {
		return diagnoseStructured(raw) // says where the JSON breaks
	}
	return decodeOtherStructured(raw)
}

// decodeOtherStructured reads one event in the JSON format from raw, valid
// JSON that a StructuredReader did not read, by the SDK's decoder, whose
// UnmarshalJSON it calls itself (json.Unmarshal would check raw all over
// again first).
func decodeOtherStructured(raw []byte) decoded {
	var e event.Event
	if err := e.UnmarshalJSON(raw); err != nil {
		d := diagnoseStructured(raw)
		if d.err == nil {
			d.err = fieldErrorf("", "%v", err)
		}
		return d
	}
	if e.SpecVersion() != event.CloudEventsVersionV1 {
		return decoded{err: fieldErrorf("specversion", "%q is not supported: this bus accepts CloudEvents 1.0", e.SpecVersion()), id: e.ID(), source: e.Source()}
	}
	if len(e.Extensions()) > 0 {
		// sdk-go folds extension names to lower case; the spec refuses
		// upper case, so look at the names as the producer wrote them.
		if d := diagnoseStructured(raw); d.err != nil {
			return d
		}
	}
	return decoded{event: &e}
}

// diagnoseStructured explains why sdk-go refused a JSON event, naming the
// attribute at fault. It runs only on that error path.
func diagnoseStructured(raw []byte) decoded {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil {
		return decoded{err: fieldErrorf("", "an event must be a JSON object: %v", err)}
	}
	var d decoded
	str := func(name string) (string, bool) {
		var s string
		err := json.Unmarshal(attrs[name], &s)
		return s, err == nil
	}
	d.id, _ = str("id")
	d.source, _ = str("source")
	if _, ok := attrs["specversion"]; !ok {
		d.err = fieldErrorf("specversion", "is required and must be \"1.0\"")
		return d
	}
	if sv, _ := str("specversion"); sv != event.CloudEventsVersionV1 {
		d.err = fieldErrorf("specversion", "%s is not supported: this bus accepts CloudEvents \"1.0\"", attrs["specversion"])
		return d
	}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if name == "data" || name == "data_base64" {
			continue
		}
		if err := httpbinding.CheckAttributeName(name); err != nil {
			d.err = fieldErrorf(name, "%v", err)
			return d
		}
		if _, isString := str(name); !isString && isStringAttribute(name) {
			d.err = fieldErrorf(name, "must be a JSON string, got %s", attrs[name])
			return d
		}
	}
	if t, ok := attrs["time"]; ok {
		s, _ := str("time")
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			d.err = fieldErrorf("time", "%s is not an RFC 3339 timestamp such as \"2026-01-02T15:04:05Z\"", t)
			return d
		}
	}
	return d
}

func isStringAttribute(name string) bool {
	switch name {
	case "id", "source", "type", "subject", "time", "dataschema", "datacontenttype", "specversion":
		return true
	}
	return false
}
