package rabbitmq

import (
	"maps"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
)

// The AMQP message the bus writes for an event is a wire format other
// CloudEvents SDKs read: any change to it must be deliberate (go test -update).
func TestBinaryModeMatchesGolden(t *testing.T) {
	m := adaptertest.GoldenMessage(t)
	p := toPublishing(&driver.Message{Body: m.Body, Metadata: m.Metadata})
	adaptertest.MatchesGolden(t, "binary-mode.golden", "the AMQP message", map[string]any{
		"content-type":           p.ContentType,
		"delivery-mode":          p.DeliveryMode,
		"application-properties": p.Headers,
		"body":                   string(p.Body),
	})
}

func TestDeliveryReadsBackTheCanonicalForm(t *testing.T) {
	m := adaptertest.GoldenMessage(t)
	m.Metadata[adapters.MetaAttempts] = "2"
	p := toPublishing(&driver.Message{Body: m.Body, Metadata: m.Metadata})
	if p.Headers[adapters.MetaAttempts] != "2" {
		t.Fatalf("headers %v: the bus's own metadata must travel as a plain %s header, not a CloudEvents extension", p.Headers, adapters.MetaAttempts)
	}
	p.Headers["x-delivery-count"] = int64(2) // the broker's, not the event's
	got := metadataOf(amqp.Delivery{Headers: p.Headers, ContentType: p.ContentType})
	if !maps.Equal(got, m.Metadata) {
		t.Fatalf("read back %v, want %v: a delivery must decode to the event that was published", got, m.Metadata)
	}
}

// Other SDKs may write typed AMQP values or the cloudEvents_ prefix; the
// binding requires reading them as the attribute's canonical string.
func TestDeliveryFromOtherSDKs(t *testing.T) {
	d := amqp.Delivery{
		ContentType: "text/plain",
		Headers: amqp.Table{
			"cloudEvents_specversion": "1.0",
			"cloudEvents:id":          "1",
			"cloudEvents:time":        time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			"cloudEvents:sequence":    int32(7),
			"cloudEvents:urgent":      true,
		},
	}
	want := map[string]string{
		"specversion":     "1.0",
		"id":              "1",
		"time":            "2026-01-02T03:04:05Z",
		"sequence":        "7",
		"urgent":          "true",
		"datacontenttype": "text/plain",
	}
	if got := metadataOf(d); !maps.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
}
