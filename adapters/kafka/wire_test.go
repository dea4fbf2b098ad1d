package kafka

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
	"github.com/twmb/franz-go/pkg/kgo"

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

// The Kafka record the bus writes for an event is a wire format other
// CloudEvents SDKs read: any change to it must be deliberate (go test -update).
func TestBinaryModeMatchesGolden(t *testing.T) {
	m, err := adapters.EncodeEvent(goldenEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	m.Metadata[adapters.MetaOrderingKey] = "customer-7"
	m.Metadata[adapters.MetaAcceptedAt] = "1772600767123"
	r := toRecord("eventbus.orders", m.Body, m.Metadata)
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[h.Key] = string(h.Value)
	}
	got, err := json.MarshalIndent(map[string]any{
		"topic":   r.Topic,
		"key":     string(r.Key),
		"headers": headers,
		"value":   string(r.Value),
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
		t.Errorf("the Kafka record differs from %s, which consumers in other languages rely on:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestRecordReadsBackTheCanonicalForm(t *testing.T) {
	m, err := adapters.EncodeEvent(goldenEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	m.Metadata[adapters.MetaAttempts] = "2"
	r := toRecord("t", m.Body, m.Metadata)
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: "traceparent-of-another-tool", Value: []byte("x")})
	if got := metadataOf(r); !maps.Equal(got, m.Metadata) {
		t.Fatalf("read back %v, want %v: a record must decode to the event that was published, without foreign headers", got, m.Metadata)
	}
}

// Without an ordering key, the binding's partitionkey extension keys the
// record, so a topic target's readers see the producer's partitioning.
func TestPartitionKeyExtensionKeysTheRecord(t *testing.T) {
	r := toRecord("t", nil, map[string]string{"specversion": "1.0", partitionKeyAttr: "tenant-9"})
	if string(r.Key) != "tenant-9" {
		t.Fatalf("key %q, want tenant-9 from the partitionkey extension", r.Key)
	}
}
