package activemq

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
)

// The STOMP frame the bus sends for an event is a wire format other STOMP
// and JMS clients read: any change to it must be deliberate (go test
// -update).
func TestBinaryModeMatchesGolden(t *testing.T) {
	m := adaptertest.GoldenMessage(t)
	now := time.UnixMilli(1772600767123)
	m.Metadata[adapters.MetaAcceptedAt] = "1772600767123"
	m.Metadata[adapters.MetaOrderingKey] = "order-42"
	m.Metadata[adapters.MetaDeliverAt] = "1772600769623"
	adaptertest.MatchesGolden(t, "binary-mode.golden", "the STOMP SEND frame", map[string]any{
		"headers": sendHeaders("/queue/eventbus.orders", m.Metadata, now),
		"body":    string(m.Body),
	})
}

func TestMessageReadsBackTheCanonicalForm(t *testing.T) {
	m := adaptertest.GoldenMessage(t)
	m.Metadata[adapters.MetaAttempts] = "2"
	h := sendHeaders("/queue/x", m.Metadata, time.Now())
	// What ActiveMQ adds on delivery is not part of the event.
	h["message-id"], h["ack"], h["subscription"], h["redelivered"], h["expires"] = "ID:1", "ID:2", "s1", "true", "0"
	if got := metadataOf(h); !maps.Equal(got, m.Metadata) {
		t.Fatalf("read back %v, want %v: a message must decode to the event that was published, without the broker's headers", got, m.Metadata)
	}
}

func TestDeliverAtInThePastIsNotScheduled(t *testing.T) {
	now := time.Now()
	h := sendHeaders("/queue/x", map[string]string{adapters.MetaDeliverAt: "1000"}, now)
	if _, ok := h[delayHeader]; ok {
		t.Fatalf("a deliver-at in the past got %s=%s: a due message must go out at once", delayHeader, h[delayHeader])
	}
	if h["persistent"] != "true" || !strings.HasPrefix(h["destination"], "/queue/") {
		t.Fatalf("headers %v: every channel message is persistent", h)
	}
}
