package nats

import (
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/eventbus-go/eventbus/adapters"
)

// CloudEvents on NATS in binary content mode: the data is the message
// payload, datacontenttype is the content-type header, and every other
// attribute and extension is a header "ce-<name>" with the attribute's
// canonical string.
const (
	headerPrefix      = "ce-"
	contentTypeHeader = "content-type"
	contentTypeAttr   = "datacontenttype"
)

// toMsg maps a message in canonical form (adapters.EncodeEvent) onto a NATS
// message for subject. The bus's own metadata (adapters.MetaPrefix) travels
// as plain headers, so CloudEvents consumers do not mistake it for
// extensions. Header names are kept as written: NATS headers are case
// sensitive, and CloudEvents names are lower case.
func toMsg(subject string, body []byte, md map[string]string) *nats.Msg {
	m := &nats.Msg{Subject: subject, Data: body, Header: make(nats.Header, len(md))}
	for name, value := range md {
		key := headerPrefix + name
		switch {
		case name == contentTypeAttr:
			key = contentTypeHeader
		case strings.HasPrefix(name, adapters.MetaPrefix):
			key = name
		}
		m.Header[key] = []string{value}
	}
	return m
}

// msgID is the Nats-Msg-Id the server deduplicates a publish by: the
// event's source and id, and the bus's attempt and redrive marks, so a
// publish retried after a lost ack is stored once while a later attempt or
// a redrive of the same event is stored again. Without an id there is none.
func msgID(md map[string]string) string {
	if md["id"] == "" {
		return ""
	}
	return md["source"] + " " + md["id"] + " " + md[adapters.MetaAttempts] + " " + md[adapters.MetaRedrivenAt]
}

// metadataOf reads a message's headers back into canonical form. Headers
// that are neither CloudEvents attributes nor the bus's own are left out.
func metadataOf(h nats.Header) map[string]string {
	md := make(map[string]string, len(h))
	for key, vals := range h {
		if len(vals) == 0 {
			continue
		}
		switch {
		case key == contentTypeHeader:
			md[contentTypeAttr] = vals[0]
		case strings.HasPrefix(key, headerPrefix) && len(key) > len(headerPrefix):
			md[key[len(headerPrefix):]] = vals[0]
		case strings.HasPrefix(key, adapters.MetaPrefix):
			md[key] = vals[0]
		}
	}
	return md
}
