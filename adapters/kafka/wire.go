package kafka

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventbus-go/eventbus/adapters"
)

// The CloudEvents Kafka binding, binary content mode: every attribute and
// extension is a header "ce_<name>", datacontenttype is the content-type
// header, and the record key comes from the partitionkey extension.
const (
	headerPrefix      = "ce_"
	contentTypeHeader = "content-type"
	contentTypeAttr   = "datacontenttype"
	partitionKeyAttr  = "partitionkey"
)

// toRecord maps a message in canonical form (adapters.EncodeEvent) onto a
// Kafka record for topic. The key is the ordering key, so every event of a
// key lands on one partition; without one, the partitionkey extension the
// binding names; without either, none. The bus's own metadata
// (adapters.MetaPrefix) travels as plain headers, so CloudEvents consumers
// do not mistake it for extensions.
func toRecord(topic string, body []byte, md map[string]string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Value: body, Headers: make([]kgo.RecordHeader, 0, len(md))}
	if k := md[adapters.MetaOrderingKey]; k != "" {
		r.Key = []byte(k)
	} else if k := md[partitionKeyAttr]; k != "" {
		r.Key = []byte(k)
	}
	for name, value := range md {
		key := headerPrefix + name
		switch {
		case name == contentTypeAttr:
			key = contentTypeHeader
		case strings.HasPrefix(name, adapters.MetaPrefix):
			key = name
		}
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
	}
	// Sorted, so one event always makes the same record.
	slices.SortFunc(r.Headers, func(a, b kgo.RecordHeader) int { return strings.Compare(a.Key, b.Key) })
	return r
}

// metadataOf reads a record back into canonical form. Headers that are
// neither CloudEvents attributes nor the bus's own are left out.
func metadataOf(r *kgo.Record) map[string]string {
	md := make(map[string]string, len(r.Headers))
	for _, h := range r.Headers {
		switch {
		case h.Key == contentTypeHeader:
			md[contentTypeAttr] = string(h.Value)
		case strings.HasPrefix(h.Key, headerPrefix) && len(h.Key) > len(headerPrefix):
			md[h.Key[len(headerPrefix):]] = string(h.Value)
		case strings.HasPrefix(h.Key, adapters.MetaPrefix):
			md[h.Key] = string(h.Value)
		}
	}
	return md
}
