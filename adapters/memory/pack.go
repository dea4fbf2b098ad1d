package memory

import (
	"encoding/binary"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/adapters"
)

// A stored message is packed: its metadata flattened into fields, then its
// body, in bytes with no pointers. A channel may hold millions of
// messages, so what each holds is what the channel costs: in bytes, and in
// objects for the garbage collector to visit. A waiting message is a
// record in a slab of its channel's packedQueue; one kept apart (in a
// lane, scheduled, in flight) is a message with one slice of its own.
//
// Each metadata entry is a name field and a value field. A field is a
// uvarint then bytes: a value's uvarint is its length; a name's is twice
// its length, or, for a name of commonNames, twice its place there plus
// one, with no bytes after it. Every event has most of those names, and
// the longest of them are the bus's own.

// commonNames are the metadata names messages often have, each packed as
// one byte.
var commonNames = [...]string{
	"specversion", "id", "source", "type", "datacontenttype", "time",
	"subject", "dataschema", "traceparent", "tracestate",
	adapters.MetaAcceptedAt, adapters.MetaAttempts, adapters.MetaFirstAttempt,
	adapters.MetaOrderingKey, adapters.MetaDeliverAt, adapters.MetaRedrivenAt,
}

// commonName returns the place of name in commonNames, or -1.
func commonName(name string) int {
	switch name {
	case "specversion":
		return 0
	case "id":
		return 1
	case "source":
		return 2
	case "type":
		return 3
	case "datacontenttype":
		return 4
	case "time":
		return 5
	case "subject":
		return 6
	case "dataschema":
		return 7
	case "traceparent":
		return 8
	case "tracestate":
		return 9
	case adapters.MetaAcceptedAt:
		return 10
	case adapters.MetaAttempts:
		return 11
	case adapters.MetaFirstAttempt:
		return 12
	case adapters.MetaOrderingKey:
		return 13
	case adapters.MetaDeliverAt:
		return 14
	case adapters.MetaRedrivenAt:
		return 15
	}
	return -1
}

// flatten appends md's entries to dst as fields, and returns them with the
// bytes their names and values hold (as adapters.MessageBytes counts
// them). Callers pass a buffer, then copy the fields and the body into
// where the message is kept (packedQueue.push, or joined): sizing that
// first would iterate md twice, which costs more than the copy.
func flatten(dst []byte, md map[string]string) (fields []byte, size int) {
	for k, v := range md {
		dst = appendEntry(dst, k, v)
		size += len(k) + len(v)
	}
	return dst, size
}

// flattenEvent is flatten for EncodeStamped(e, s)'s metadata, from e's
// and s's fields.
func flattenEvent(dst []byte, e *event.Event, s adapters.Stamp) (fields []byte, size int, err error) {
	err = adapters.EachMetadata(e, s, func(name, value string) {
		dst = appendEntry(dst, name, value)
		size += len(name) + len(value)
	})
	return dst, size, err
}

// appendEntry appends the name and value fields of one metadata entry.
func appendEntry(b []byte, name, value string) []byte {
	if i := commonName(name); i >= 0 {
		b = binary.AppendUvarint(b, uint64(2*i+1))
	} else {
		b = binary.AppendUvarint(b, uint64(2*len(name)))
		b = append(b, name...)
	}
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
}

// joined returns fields then body in one slice of the exact size: a
// stored message.
func joined(fields, body []byte) []byte {
	packed := make([]byte, len(fields)+len(body))
	copy(packed, fields)
	copy(packed[len(fields):], body)
	return packed
}

// unpack rebuilds the metadata that flatten flattened into fields, in a map
// sized for it at once. A common name is its constant; the other names
// and the values share one copy of fields.
func unpack(fields []byte) map[string]string {
	n := 0
	for i := 0; i < len(fields); n++ {
		_, _, i = nextName(fields, i)
		_, i = nextValue(fields, i)
	}
	md := make(map[string]string, n)
	s := string(fields)
	for i := 0; i < len(fields); {
		common, start, end := nextName(fields, i)
		name := common
		if common == "" {
			name = s[start:end]
		}
		start, i = nextValue(fields, end)
		md[name] = s[start:i]
	}
	return md
}

// nextName reads the name field at fields[i:]: a common name, or where
// the name's bytes start and end. end is where the value field starts.
func nextName(fields []byte, i int) (common string, start, end int) {
	x, w := binary.Uvarint(fields[i:])
	if x%2 == 1 {
		return commonNames[x/2], i + w, i + w
	}
	return "", i + w, i + w + int(x/2)
}

// nextValue returns where the value field at fields[i:] starts and ends.
func nextValue(fields []byte, i int) (start, end int) {
	n, w := binary.Uvarint(fields[i:])
	return i + w, i + w + int(n)
}
