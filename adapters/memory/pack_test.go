package memory

import (
	"bytes"
	"context"
	"maps"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
)

func TestCommonNamesAreFoundInPlace(t *testing.T) {
	for i, name := range commonNames {
		if got := commonName(name); got != i {
			t.Errorf("commonName(%q) = %d, want %d", name, got, i)
		}
	}
	for _, name := range []string{"", "ID", "partitionkey", "eventbus-", "sourcex"} {
		if got := commonName(name); got != -1 {
			t.Errorf("commonName(%q) = %d, want -1", name, got)
		}
	}
}

// FuzzPack checks that what a channel stores comes back as it was sent:
// metadata of common and other names (an empty one, a long one), and the
// body after it.
func FuzzPack(f *testing.F) {
	f.Add("partitionkey", "user-7", []byte(`{"n":1}`))
	f.Add("", "", []byte{})
	f.Add("source", strings.Repeat("v", 300), []byte("body"))
	f.Add(strings.Repeat("n", 200), "x", []byte(nil))
	f.Fuzz(func(t *testing.T, name, value string, body []byte) {
		md := map[string]string{
			"specversion":           "1.0",
			"id":                    "e-1",
			"type":                  "order.created",
			adapters.MetaAcceptedAt: "1765000000000",
			name:                    value,
		}
		packed, bodyAt, size := pack(md, body)
		m := &message{packed: packed, bodyAt: bodyAt}
		if got := m.metadata(); !maps.Equal(got, md) {
			t.Errorf("metadata came back as %q, want %q", got, md)
		}
		if got := m.body(); string(got) != string(body) {
			t.Errorf("body came back as %q, want %q", got, body)
		}
		want := len(body)
		for k, v := range md {
			want += len(k) + len(v)
		}
		if size != want {
			t.Errorf("size %d, want %d (body, names and values)", size, want)
		}
	})
}

// A message stored in memory does not keep what its sender's body was cut
// from: the channel holds its own copy.
func TestAStoredBodyIsTheChannelsOwn(t *testing.T) {
	topic, sub := openChannel(t, 1)
	body := []byte("original")
	if err := topic.Send(t.Context(), &adapters.Message{Body: body, Metadata: map[string]string{"id": "1"}}); err != nil {
		t.Fatal(err)
	}
	copy(body, "changed!")
	if got := string(receive(t, sub).Body); got != "original" {
		t.Errorf("received body %q, want the one sent, %q", got, "original")
	}
}

// BenchmarkHeld reports the memory a channel holds per waiting message,
// for events of the bench's shape (four attributes, a content type, about
// a hundred bytes of JSON data) as ingress sends them, each with a body
// of its own.
func BenchmarkHeld(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	e := event.New()
	e.SetSource("/bench/producer")
	e.SetType("bench.ingress")
	if err := e.SetData(event.ApplicationJSON, []byte(`{"order":"A-100234","customer":"c-42","amount":1999,"currency":"EUR","items":3,"note":"bench payload"}`)); err != nil {
		b.Fatal(err)
	}
	var held float64
	for b.Loop() {
		d := New(Options{MaxDepth: n})
		if err := d.EnsureChannel(ctx, "c"); err != nil {
			b.Fatal(err)
		}
		t, err := d.OpenChannel(ctx, "c")
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range n {
			e.SetID("op-" + strconv.Itoa(i))
			m, err := adapters.EncodeEvent(&e)
			if err != nil {
				b.Fatal(err)
			}
			m.Metadata[adapters.MetaAcceptedAt] = "1765000000000"
			body := bytes.Clone(m.Body) // each event read from a request has its own
			if err := t.SendBatch(ctx, []*driver.Message{{Body: body, Metadata: m.Metadata}}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(d)
		_ = d.Close()
	}
	b.ReportMetric(held, "B/message")
}
