package memory

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
)

// backend wraps a new in-memory driver as the bus does, closed when t ends.
func backend(t *testing.T, opts Options) *adapters.Backend {
	t.Helper()
	b, err := adapters.New(New(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func openChannel(t *testing.T, prefetch int) (*adapters.Channel, *adapters.Subscription) {
	t.Helper()
	ctx := context.Background()
	b := backend(t, Options{})
	if err := b.EnsureChannel(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	topic, err := b.OpenChannel(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := b.OpenSubscription(ctx, "c", adapters.SubscriptionOptions{MaxInflight: prefetch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sub.Shutdown(ctx)
		_ = topic.Shutdown(ctx)
	})
	return topic, sub
}

func send(t *testing.T, topic *adapters.Channel, body string, md map[string]string) {
	t.Helper()
	if err := topic.Send(context.Background(), &adapters.Message{Body: []byte(body), Metadata: md}); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, sub *adapters.Subscription) *adapters.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := sub.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

// A message with a due time is not received before it.
func TestDelayedMessageWaitsUntilDue(t *testing.T) {
	topic, sub := openChannel(t, 4)
	due := time.Now().Add(150 * time.Millisecond)
	send(t, topic, "later", map[string]string{adapters.MetaDeliverAt: strconv.FormatInt(due.UnixMilli(), 10)})
	send(t, topic, "now", nil)
	first := receive(t, sub)
	first.Ack()
	second := receive(t, sub)
	second.Ack()
	if string(first.Body) != "now" || string(second.Body) != "later" {
		t.Fatalf("received %q then %q; the delayed message must come after the immediate one", first.Body, second.Body)
	}
	if time.Now().Before(due.Truncate(time.Millisecond)) {
		t.Fatalf("the delayed message arrived %v before its due time", due.Sub(time.Now()))
	}
}

// Messages with the same ordering key come one at a time, in order; the
// next is held until the previous one is acked, while other keys flow.
func TestOrderingKeyLanes(t *testing.T) {
	topic, sub := openChannel(t, 10)
	for i, key := range []string{"a", "a", "b", "a"} {
		send(t, topic, key+strconv.Itoa(i), map[string]string{adapters.MetaOrderingKey: key})
	}
	a0 := receive(t, sub)
	b2 := receive(t, sub)
	if string(a0.Body) != "a0" || string(b2.Body) != "b2" {
		t.Fatalf("got %q and %q; want a0 and b2 (one per key, a's second held back)", a0.Body, b2.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if m, err := sub.Receive(ctx); err == nil {
		t.Fatalf("received %q while a0 was unacked: key a must wait", m.Body)
	}
	cancel()
	b2.Ack()
	a0.Nack() // a failure: a0 comes back before a1
	if m := receive(t, sub); string(m.Body) != "a0" {
		t.Fatalf("after a nack got %q, want a0 again before the rest of its lane", m.Body)
	} else {
		m.Ack()
	}
	for _, want := range []string{"a1", "a3"} {
		m := receive(t, sub)
		if string(m.Body) != want {
			t.Fatalf("got %q, want %q: a lane keeps publish order", m.Body, want)
		}
		m.Ack()
	}
}

// A channel whose receivers kept up, so that its queue emptied, then
// takes messages of every size, each the next one received: the emptied
// queue's small slab, too small for a large message, is not read again.
func TestAnEmptiedChannelHandsOutEachNewMessageOnce(t *testing.T) {
	topic, sub := openChannel(t, 1)
	for i, size := range []int{10, 20 << 10, 10, 1 << 20, 600 << 10, 10} {
		body := strings.Repeat(strconv.Itoa(i), size)
		send(t, topic, body, nil)
		m := receive(t, sub)
		if string(m.Body) != body {
			t.Fatalf("message %d: received %d bytes starting %.10q, want the %d bytes just sent", i, len(m.Body), m.Body, size)
		}
		m.Ack()
	}
}
