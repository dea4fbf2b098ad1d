package nats

import (
	"maps"
	"testing"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
)

// The NATS message the bus writes for an event is a wire format other
// CloudEvents SDKs read: any change to it must be deliberate (go test -update).
func TestBinaryModeMatchesGolden(t *testing.T) {
	m := adaptertest.GoldenMessage(t)
	m.Metadata[adapters.MetaAcceptedAt] = "1772600767123"
	msg := toMsg("eventbus.orders", m.Body, m.Metadata)
	headers := map[string]string{}
	for k, v := range msg.Header {
		headers[k] = v[0]
	}
	adaptertest.MatchesGolden(t, "binary-mode.golden", "the NATS message", map[string]any{
		"subject":    msg.Subject,
		"headers":    headers,
		"data":       string(msg.Data),
		"nats-msgid": msgID(m.Metadata),
	})
}

func TestMessageReadsBackTheCanonicalForm(t *testing.T) {
	m := adaptertest.GoldenMessage(t)
	m.Metadata[adapters.MetaAttempts] = "2"
	msg := toMsg("s", m.Body, m.Metadata)
	msg.Header["Nats-Msg-Id"] = []string{"x"}
	if got := metadataOf(msg.Header); !maps.Equal(got, m.Metadata) {
		t.Fatalf("read back %v, want %v: a message must decode to the event that was published, without foreign headers", got, m.Metadata)
	}
}

// A publish retried after a lost ack must be stored once; a later attempt
// or a redrive of the same event is a new message.
func TestMsgIDTellsRetriesFromNewAttempts(t *testing.T) {
	base := map[string]string{"id": "e1", "source": "/s"}
	retry := maps.Clone(base)
	again := maps.Clone(base)
	again[adapters.MetaAttempts] = "2"
	redriven := maps.Clone(base)
	redriven[adapters.MetaRedrivenAt] = "1772600767123"
	if msgID(base) != msgID(retry) {
		t.Error("the same publish got two ids: the server would store a retried publish twice")
	}
	if msgID(base) == msgID(again) || msgID(base) == msgID(redriven) {
		t.Error("a new attempt or a redrive got the first publish's id: the server would drop it as a duplicate")
	}
	if msgID(map[string]string{}) != "" {
		t.Error("a message without an event id got a Nats-Msg-Id")
	}
}
