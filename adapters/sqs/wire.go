package sqs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// contentTypeAttr is the message attribute that says the body is a
// structured-mode CloudEvent, as a content-type header would.
const (
	contentTypeAttr = "content-type"
	structuredType  = "application/cloudevents+json; charset=utf-8"
)

// encodeBody turns a message in canonical form into an SQS body: the event
// in CloudEvents structured content mode (JSON), since SQS allows only 10
// message attributes. Data that is JSON stays JSON, text stays a string,
// anything else is data_base64. A message that is not a CloudEvent (a dead
// letter the bus could not decode) keeps its body as it is.
func encodeBody(body []byte, md map[string]string) ([]byte, error) {
	if md["specversion"] == "" {
		if !utf8.Valid(body) {
			return nil, errcode.Errorf(errcode.InvalidArgument, "a message that is not a CloudEvent must have a UTF-8 body to cross SQS")
		}
		return body, nil
	}
	e, err := adapters.Decode("", body, md)
	if err != nil {
		return nil, errcode.Errorf(errcode.InvalidArgument, "%w", err)
	}
	e.DataBase64 = len(body) > 0 && !dataIsJSON(e.DataContentType(), body) && !dataIsText(e.DataContentType(), body)
	out, err := json.Marshal(e)
	if err != nil {
		return nil, errcode.Errorf(errcode.InvalidArgument, "event %s as JSON: %w", e.ID(), err)
	}
	return out, nil
}

func mediaType(ct string) string {
	if t, _, err := mime.ParseMediaType(ct); err == nil {
		return t
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// dataIsJSON: the data can go in "data" as JSON itself. No content type
// means application/json in the JSON format.
func dataIsJSON(ct string, body []byte) bool {
	t := mediaType(ct)
	return (t == "" || t == "application/json" || t == "text/json" || strings.HasSuffix(t, "+json")) && json.Valid(body)
}

// dataIsText: the data can go in "data" as a JSON string.
func dataIsText(ct string, body []byte) bool {
	t := mediaType(ct)
	return (strings.HasPrefix(t, "text/") || t == "application/xml" || strings.HasSuffix(t, "+xml")) && utf8.Valid(body)
}

// attributes carries the bus's own metadata (adapters.MetaPrefix) as
// message attributes, beside the content-type of the body.
func attributes(md map[string]string) map[string]types.MessageAttributeValue {
	attrs := map[string]types.MessageAttributeValue{}
	if md["specversion"] != "" {
		attrs[contentTypeAttr] = stringAttr(structuredType)
	}
	for k, v := range md {
		if strings.HasPrefix(k, adapters.MetaPrefix) && v != "" {
			attrs[k] = stringAttr(v)
		}
	}
	return attrs
}

func stringAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// decode reads an SQS message back into canonical form: the structured
// event's attributes and data, and the bus's metadata from the message
// attributes. A body that is not a structured CloudEvent stays as it is,
// with the attributes as its metadata, so the bus can dead-letter it.
func decode(body string, attrs map[string]types.MessageAttributeValue) ([]byte, map[string]string) {
	var md map[string]string
	out := []byte(body)
	var e event.Event
	if err := json.Unmarshal(out, &e); err == nil && e.SpecVersion() != "" {
		if m, err := adapters.EncodeEvent(&e); err == nil {
			md, out = m.Metadata, m.Body
		}
	}
	if md == nil {
		md = map[string]string{}
	}
	for k, v := range attrs {
		if strings.HasPrefix(k, adapters.MetaPrefix) && v.StringValue != nil {
			md[k] = *v.StringValue
		}
	}
	return out, md
}

// dedupID is a FIFO message's deduplication id: the event's source and id
// and the bus's metadata (attempts, due time, …), so a retry the bus
// re-sends is a new message while a repeated send of the same one is not.
// A message that is not a CloudEvent has no id: its body stands in.
func dedupID(body []byte, md map[string]string) string {
	h := sha256.New()
	if md["id"] == "" {
		h.Write(body)
	}
	keys := []string{"source", "id"}
	for k := range md {
		if strings.HasPrefix(k, adapters.MetaPrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys[2:])
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(md[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
