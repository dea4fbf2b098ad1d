package rabbitmq

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenEvent has every CloudEvents attribute and three extensions.
func goldenEvent(t *testing.T) *event.Event {
	e := event.New(event.CloudEventsVersionV1)
	e.SetID("7c2f9d3e")
	e.SetSource("https://shop.example.com/orders")
	e.SetType("com.example.order.created")
	e.SetSubject("orders/42")
	e.SetTime(time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC))
	e.SetDataSchema("https://shop.example.com/schemas/order.json")
	e.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	e.SetExtension("attempt", 3)
	e.SetExtension("urgent", true)
	if err := e.SetData("application/json", map[string]any{"order": 42}); err != nil {
		t.Fatal(err)
	}
	return &e
}

// The AMQP message the bus writes for an event is a wire format other
// CloudEvents SDKs read: any change to it must be deliberate (go test -update).
func TestBinaryModeMatchesGolden(t *testing.T) {
	m, err := adapters.EncodeEvent(goldenEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	p := toPublishing(&driver.Message{Body: m.Body, Metadata: m.Metadata})
	got, err := json.MarshalIndent(map[string]any{
		"content-type":           p.ContentType,
		"delivery-mode":          p.DeliveryMode,
		"application-properties": p.Headers,
		"body":                   string(p.Body),
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "binary-mode.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the AMQP message differs from %s, which consumers in other languages rely on:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestDeliveryReadsBackTheCanonicalForm(t *testing.T) {
	m, err := adapters.EncodeEvent(goldenEvent(t))
	if err != nil {
		t.Fatal(err)
	}
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
