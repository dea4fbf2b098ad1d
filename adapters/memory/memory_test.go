package memory

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
	"github.com/eventbus-go/eventbus/adapters/internal/wakeup"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/internal/testkit"
)

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		// A small message limit keeps the size test quick; the suite reads
		// it from Capabilities. Outage stays nil: memory cannot go away.
		Open: func(context.Context) (adapters.Driver, error) {
			return New(Options{MaxMessageBytes: 64 << 10}), nil
		},
	})
}

func TestFullChannelIsResourceExhaustedNamingTheChannel(t *testing.T) {
	ctx := t.Context()
	b := backend(t, Options{MaxDepth: 2})
	if err := b.EnsureChannel(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	top, err := b.OpenChannel(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = top.Shutdown(context.Background()) })
	for range 2 {
		if err := top.Send(ctx, &adapters.Message{Body: []byte("x")}); err != nil {
			t.Fatalf("Send below max_depth: %v", err)
		}
	}
	err = top.Send(ctx, &adapters.Message{Body: []byte("x")})
	if errcode.Of(err) != errcode.ResourceExhausted {
		t.Fatalf("Send past max_depth: %v, want code resource_exhausted: the bus answers 429 and retries later", err)
	}
	if !strings.Contains(err.Error(), `"orders"`) {
		t.Errorf("error %q does not name the channel: an operator must see which route is behind", err)
	}
}

func TestUnknownOptionIsRefused(t *testing.T) {
	u := &url.URL{Scheme: Scheme, RawQuery: "max_dept=10"}
	_, err := Open(t.Context(), u)
	if errcode.Of(err) != errcode.InvalidArgument || !strings.Contains(err.Error(), "max_depth") {
		t.Fatalf("Open(%s) = %v, want invalid_argument listing the known options: a typo must not be ignored", u, err)
	}
}

// A receiver waiting on an empty channel wakes as soon as a message is
// published, instead of on a polling timer (mempubsub sleeps up to 250 ms).
func TestWaitingReceiverWakesAtOnce(t *testing.T) {
	ctx := t.Context()
	ch, s := newSubscribed(t, "chat", 1)
	got := make(chan time.Time, 1)
	go func() {
		ms, err := s.ReceiveBatch(ctx, 1)
		if err != nil || len(ms) != 1 {
			t.Errorf("ReceiveBatch = %d messages, %v; want the published one", len(ms), err)
		}
		got <- time.Now()
	}()
	// Publish only once the receiver is parked on the channel.
	testkit.Eventually(t, 5*time.Second, "the receiver to wait on the empty channel", func() bool { return hasWaiter(ch) })

	sent := time.Now()
	top := &topic{ch: ch}
	if err := top.SendBatch(ctx, []*driver.Message{{Body: []byte("hi")}}); err != nil {
		t.Fatal(err)
	}
	// A woken receiver takes microseconds; a polling one waits out its
	// interval (mempubsub's is 250ms). The bound sits below that interval
	// and far above what a loaded machine's scheduling adds.
	if d := (<-got).Sub(sent); d > 200*time.Millisecond {
		t.Fatalf("the waiting receiver woke %v after the publish, want at once, not after a polling interval: chat and request/reply need it", d)
	}
}

// newSubscribed makes channel name on a new backend, closed with the test,
// and a subscription to it.
func newSubscribed(t *testing.T, name string, prefetch int) (*channel, *subscription) {
	t.Helper()
	b := New(Options{})
	t.Cleanup(func() { _ = b.Close() })
	if err := b.EnsureChannel(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	ch, err := b.channel(name)
	if err != nil {
		t.Fatal(err)
	}
	s := &subscription{ch: ch, prefetch: prefetch}
	ch.open(s)
	return ch, s
}

func hasWaiter(c *channel) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.available.Waiters() > 0
}

// An ack wakes no receiver waiting for messages, and a message wakes one:
// idle receivers of a busy channel do not all wake, and queue on its
// mutex, for every event (a wake-up storm).
func TestReceiversWakeOnlyForMessages(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	ch, s := newSubscribed(t, "busy", 10)
	top := &topic{ch: ch}
	if err := top.SendBatch(ctx, []*driver.Message{{Body: []byte("first")}}); err != nil {
		t.Fatal(err)
	}
	first, err := ch.take(ctx, s, 1, time.Second)
	if err != nil || len(first) != 1 {
		t.Fatalf("take = %d messages, %v; want the published one", len(first), err)
	}

	const receivers = 3
	took := startReceivers(t, ctx, cancel, ch, s, receivers)
	waiters := func() int { return waitingOn(ch, &ch.available) }
	testkit.Eventually(t, 5*time.Second, "the receivers to wait on the empty channel", func() bool { return waiters() == receivers })

	ch.settle(s, []driver.AckID{first[0]}, false)
	if n := waiters(); n != receivers {
		t.Fatalf("after an ack %d receivers still wait, want all %d: an ack brings no message to take", n, receivers)
	}
	if err := top.SendBatch(ctx, []*driver.Message{{Body: []byte("second")}}); err != nil {
		t.Fatal(err)
	}
	if n := waiters(); n != receivers-1 {
		t.Fatalf("after one message %d receivers still wait, want %d: one message wakes one receiver", n, receivers-1)
	}
	if n := <-took; n != 1 {
		t.Fatalf("the woken receiver took %d messages, want the one published", n)
	}
}

// Receivers of a full subscription wait for room; each ack that frees a
// slot wakes one of them, however full the subscription still was, so
// every one of them takes a message published afterwards at once, not
// after its own wait runs out.
func TestEveryReceiverWaitingForRoomWakesAsAcksFreeIt(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	ch, s := newSubscribed(t, "full", 2)
	top := &topic{ch: ch}
	if err := top.SendBatch(ctx, []*driver.Message{{Body: []byte("a")}, {Body: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	held, err := ch.take(ctx, s, 2, time.Second)
	if err != nil || len(held) != 2 {
		t.Fatalf("take = %d messages, %v; want both", len(held), err)
	}
	const receivers = 2
	took := startReceivers(t, ctx, cancel, ch, s, receivers)
	waitingForRoom := func() int { return waitingOn(ch, &s.roomFreed) }
	testkit.Eventually(t, 5*time.Second, "both receivers to wait for room", func() bool { return waitingForRoom() == receivers })
	for _, m := range held { // one ack at a time: the second finds s no longer full
		ch.settle(s, []driver.AckID{m}, false)
	}
	if err := top.SendBatch(ctx, []*driver.Message{{Body: []byte("c")}, {Body: []byte("d")}}); err != nil {
		t.Fatal(err)
	}
	for range receivers {
		select {
		case n := <-took:
			if n != 1 {
				t.Fatalf("a receiver took %d messages, want 1", n)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a receiver still waits although its subscription has room and a message is there")
		}
	}
}

// startReceivers starts n receivers of s, each taking one message with an
// hour to wait, and sends how many each took; cancel (called, and the
// receivers waited for, when t ends) stops those still waiting.
func startReceivers(t *testing.T, ctx context.Context, cancel context.CancelFunc, ch *channel, s *subscription, n int) <-chan int {
	var wg sync.WaitGroup
	took := make(chan int, n)
	for range n {
		wg.Go(func() {
			ms, _ := ch.take(ctx, s, 1, time.Hour)
			took <- len(ms)
		})
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return took
}

// waitingOn counts the receivers of ch waiting on signal.
func waitingOn(ch *channel, signal *wakeup.Signal) int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return signal.Waiters()
}
