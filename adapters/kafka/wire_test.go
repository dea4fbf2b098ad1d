package kafka

import (
	"maps"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
)

// The Kafka record the bus writes for an event is a wire format other
// CloudEvents SDKs read: any change to it must be deliberate (go test -update).
func TestBinaryModeMatchesGolden(t *testing.T) {
	m := adaptertest.GoldenMessage(t)
	m.Metadata[adapters.MetaOrderingKey] = "customer-7"
	m.Metadata[adapters.MetaAcceptedAt] = "1772600767123"
	r := toRecord("eventbus.orders", m.Body, m.Metadata)
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[h.Key] = string(h.Value)
	}
	adaptertest.MatchesGolden(t, "binary-mode.golden", "the Kafka record", map[string]any{
		"topic":   r.Topic,
		"key":     string(r.Key),
		"headers": headers,
		"value":   string(r.Value),
	})
}

func TestRecordReadsBackTheCanonicalForm(t *testing.T) {
	m := adaptertest.GoldenMessage(t)
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
