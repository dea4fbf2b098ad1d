package rabbitmq

import (
	"fmt"
	"strings"

	"github.com/cloudevents/sdk-go/v2/types"
	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
)

// Header prefixes of the CloudEvents AMQP binding. We write the first; the
// binding allows the second for JMS-friendly names, and we read both.
const (
	headerPrefix    = "cloudEvents:"
	altHeaderPrefix = "cloudEvents_"
)

// contentTypeAttr travels as the AMQP content-type property, not a header.
const contentTypeAttr = "datacontenttype"

// toPublishing maps a message in canonical form (adapters.EncodeEvent) onto
// a persistent AMQP message in CloudEvents binary content mode. The bus's
// own metadata (adapters.MetaPrefix) travels as plain headers, so CloudEvents
// consumers do not mistake it for extensions.
func toPublishing(m *driver.Message) amqp.Publishing {
	headers := make(amqp.Table, len(m.Metadata))
	var contentType string
	for name, value := range m.Metadata {
		if name == contentTypeAttr {
			contentType = value
			continue
		}
		if strings.HasPrefix(name, adapters.MetaPrefix) {
			headers[name] = value // the bus's own, not a CloudEvents attribute
			continue
		}
		headers[headerPrefix+name] = value
	}
	return amqp.Publishing{
		Headers:      headers,
		ContentType:  contentType,
		DeliveryMode: amqp.Persistent,
		Body:         m.Body,
	}
}

// metadataOf reads a delivery back into canonical form. Headers without a
// CloudEvents prefix (x-delivery-count and the like) are not event metadata
// and are left out; typed values other SDKs write (a timestamp, an integer)
// become their canonical CloudEvents strings.
func metadataOf(d amqp.Delivery) map[string]string {
	md := make(map[string]string, len(d.Headers)+1)
	for key, value := range d.Headers {
		name, ok := strings.CutPrefix(key, headerPrefix)
		if !ok {
			name, ok = strings.CutPrefix(key, altHeaderPrefix)
		}
		if !ok && strings.HasPrefix(key, adapters.MetaPrefix) {
			name, ok = key, true
		}
		if ok && name != "" {
			md[name] = formatHeader(value)
		}
	}
	if d.ContentType != "" {
		md[contentTypeAttr] = d.ContentType
	}
	return md
}

func formatHeader(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if cv, err := types.Validate(v); err == nil {
		if s, err := types.Format(cv); err == nil {
			return s
		}
	}
	return fmt.Sprint(v) // not a CloudEvents type: keep what it says
}
