package activemq

import (
	"strconv"
	"strings"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
)

// CloudEvents on STOMP in binary content mode, as in the HTTP binding: the
// data is the frame's body, datacontenttype is the content-type header,
// and every other attribute and extension is a header "ce-<name>" with the
// attribute's canonical string.
const (
	headerPrefix      = "ce-"
	contentTypeHeader = "content-type"
	contentTypeAttr   = "datacontenttype"
	// groupHeader is ActiveMQ's message group: the broker hands every
	// message of one group to the same consumer, in order.
	groupHeader = "JMSXGroupID"
	// delayHeader holds a message in ActiveMQ's scheduler for this many
	// milliseconds (the broker needs schedulerSupport="true").
	delayHeader = "AMQ_SCHEDULED_DELAY"
)

// sendHeaders maps a message in canonical form (adapters.EncodeEvent) onto
// the headers of a persistent SEND to dest. The bus's own metadata
// (adapters.MetaPrefix) travels as plain headers of the same name; an
// ordering key is also the message's group, and a MetaDeliverAt later than
// now becomes a scheduled delay.
func sendHeaders(dest string, md map[string]string, now time.Time) map[string]string {
	h := make(map[string]string, len(md)+4)
	for name, value := range md {
		switch {
		case name == contentTypeAttr:
			h[contentTypeHeader] = value
		case strings.HasPrefix(name, adapters.MetaPrefix):
			h[name] = value
		default:
			h[headerPrefix+name] = value
		}
	}
	if key := md[adapters.MetaOrderingKey]; key != "" {
		h[groupHeader] = key
	}
	if at, err := strconv.ParseInt(md[adapters.MetaDeliverAt], 10, 64); err == nil {
		if wait := at - now.UnixMilli(); wait > 0 {
			h[delayHeader] = strconv.FormatInt(wait, 10)
		}
	}
	h["destination"] = dest
	h["persistent"] = "true"
	return h
}

// metadataOf reads a MESSAGE frame's headers back into canonical form.
// Headers that are neither CloudEvents attributes nor the bus's own (the
// broker's message-id, ack, destination, JMSXGroupID...) are left out.
func metadataOf(h map[string]string) map[string]string {
	md := make(map[string]string, len(h))
	for key, value := range h {
		switch {
		case key == contentTypeHeader:
			md[contentTypeAttr] = value
		case strings.HasPrefix(key, headerPrefix) && len(key) > len(headerPrefix):
			md[key[len(headerPrefix):]] = value
		case strings.HasPrefix(key, adapters.MetaPrefix):
			md[key] = value
		}
	}
	return md
}
