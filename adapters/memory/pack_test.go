package memory

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

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

// stored is the message a channel stores of fields and body and hands to
// its receiver, failing t when the channel would refuse it.
func stored(t *testing.T, fields, body []byte, size int) *message {
	t.Helper()
	c := newChannel("c", Options{MaxDepth: 1, MaxBytes: 1 << 20, MaxMessageBytes: 1 << 20})
	d, err := c.newDraft(fields, body, size, "", 0)
	if err == nil {
		err = c.store([]draft{d}, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c.ready.pop(nil, 1)[0]
}

// FuzzPack checks that what a channel stores comes back as it was sent:
// metadata of common and other names (an empty one, a long one, more than
// the stack buffer holds), and the body after it.
func FuzzPack(f *testing.F) {
	f.Add("partitionkey", "user-7", []byte(`{"n":1}`))
	f.Add("", "", []byte{})
	f.Add("source", strings.Repeat("v", 300), []byte("body"))
	f.Add(strings.Repeat("n", 200), "x", []byte(nil))
	f.Add("note", strings.Repeat("w", 600), []byte("body"))
	f.Fuzz(func(t *testing.T, name, value string, body []byte) {
		md := map[string]string{
			"specversion":           "1.0",
			"id":                    "e-1",
			"type":                  "order.created",
			adapters.MetaAcceptedAt: "1765000000000",
			name:                    value,
		}
		var buf [512]byte
		fields, size := flatten(buf[:0], md)
		m := stored(t, fields, body, size)
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
		if m.size != want {
			t.Errorf("size %d, want %d (body, names and values)", m.size, want)
		}
	})
}

// FuzzPackEvent checks that an event stored from its fields (SendEvent)
// is the message its canonical map makes (Send): the same metadata, body
// and size.
func FuzzPackEvent(f *testing.F) {
	f.Add("o-1", "/shop", "orders/7", "partitionkey", "user-7", "key-7", int64(1765000000123), []byte(`{"n":1}`))
	f.Add("", "", "", "", "", "", int64(0), []byte(nil))
	f.Add("x", "https://example.com/a b?c=d#e", "s", "Bad-Name", strings.Repeat("v", 600), "", int64(-5), []byte{0, 0xff})
	f.Fuzz(func(t *testing.T, id, source, subject, ext, extValue, key string, deliverAt int64, data []byte) {
		e := event.New()
		e.SetID(id)
		e.SetSource(source)
		e.SetType("order.created")
		if subject != "" {
			e.SetSubject(subject)
		}
		if ext != "" && e.Context.SetExtension(ext, extValue) != nil {
			t.Skip("the SDK refuses the extension")
		}
		if data != nil {
			if err := e.SetData("application/octet-stream", data); err != nil {
				t.Skip("the SDK refuses the data")
			}
		}
		s := adapters.Stamp{AcceptedAt: time.UnixMilli(1765000000000), OrderingKey: key}
		if deliverAt != 0 {
			s.DeliverAt = time.UnixMilli(deliverAt)
		}
		want, wantErr := adapters.EncodeStamped(&e, s)
		var buf [512]byte
		fields, size, err := flattenEvent(buf[:0], &e, s)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("error %v, EncodeStamped's %v", err, wantErr)
		}
		if err != nil {
			return
		}
		m := stored(t, fields, e.Data(), size)
		if got := m.metadata(); !maps.Equal(got, want.Metadata) {
			t.Errorf("metadata %q, EncodeStamped's %q", got, want.Metadata)
		}
		if !bytes.Equal(m.body(), want.Body) {
			t.Errorf("body %q, EncodeStamped's %q", m.body(), want.Body)
		}
		if wantSize := adapters.MessageBytes(want.Body, want.Metadata); m.size != wantSize {
			t.Errorf("size %d, EncodeStamped's message counts %d", m.size, wantSize)
		}
	})
}

// SendEvent takes the stamp's due time and ordering key as Send takes
// their metadata: an event due later is held, and a keyed one waits for
// the one before it in its lane.
func TestSendEventHoldsAndOrdersByTheStamp(t *testing.T) {
	topic, sub := openChannel(t, 4)
	e := event.New()
	e.SetSource("/shop")
	e.SetType("order.created")
	send := func(id string, s adapters.Stamp) {
		t.Helper()
		e.SetID(id)
		if err := topic.SendEvent(t.Context(), &e, s); err != nil {
			t.Fatal(err)
		}
	}
	send("later", adapters.Stamp{DeliverAt: time.Now().Add(time.Hour)})
	send("a-0", adapters.Stamp{OrderingKey: "a"})
	send("a-1", adapters.Stamp{OrderingKey: "a"})
	first := receive(t, sub)
	if id := first.Metadata["id"]; id != "a-0" {
		t.Fatalf("received %s first, want a-0: later is due in an hour, a-1 waits for a-0", id)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if m, err := sub.Receive(ctx); err == nil {
		t.Fatalf("received %s while a-0 was unacked: later must wait for its time, a-1 for a-0", m.Metadata["id"])
	}
	first.Ack()
	if id := receive(t, sub).Metadata["id"]; id != "a-1" {
		t.Fatalf("received %s after a-0's ack, want a-1", id)
	}
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

// BenchmarkHeld reports the memory a channel holds per waiting message, on
// Go's heap and in the slabs mapped off it, for events of the bench's
// shape (four attributes, a content type, about a hundred bytes of JSON
// data) as ingress sends them, each with a body of its own.
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
		topic, err := d.OpenChannel(ctx, "c")
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
			if err := topic.SendBatch(ctx, []*driver.Message{{Body: body, Metadata: m.Metadata}}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		mapped := 0 // the slabs off Go's heap
		for _, s := range d.channels["c"].ready.slabs {
			if s.mapped {
				mapped += len(s.buf)
			}
		}
		held = float64(after.HeapAlloc-before.HeapAlloc+uint64(mapped)) / n
		runtime.KeepAlive(d)
		_ = d.Close()
	}
	b.ReportMetric(held, "B/message")
}
