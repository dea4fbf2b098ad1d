package zeromq_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/eventbus-go/eventbus/adapters/zeromq"
	"github.com/eventbus-go/eventbus/adapters/zeromq/zeromqtest"
	"github.com/eventbus-go/eventbus/internal/testkit"
)

const wait = 20 * time.Second

func publisher(t *testing.T, hwm int, drop bool) *zeromq.Publisher {
	t.Helper()
	p, err := zeromq.NewPublisher(zeromq.PublisherOptions{Addr: "127.0.0.1:0", HWM: hwm, Drop: drop})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// inbox collects what a Subscriber receives.
type inbox struct {
	mu  sync.Mutex
	got []string // topic frame + " " + body
}

func (in *inbox) handle(_ context.Context, frames [][]byte) {
	in.mu.Lock()
	in.got = append(in.got, string(bytes.Join(frames, []byte(" "))))
	in.mu.Unlock()
}

func (in *inbox) messages() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.got)
}

func subscribe(t *testing.T, addr string, prefixes ...string) *inbox {
	t.Helper()
	in := &inbox{}
	s, err := zeromq.NewSubscriber(zeromq.SubscriberOptions{Endpoints: []string{addr}, Subscribe: prefixes}, in.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return in
}

func waitSubscriptions(t *testing.T, p *zeromq.Publisher, want ...string) {
	t.Helper()
	slices.Sort(want)
	testkit.Eventually(t, wait, fmt.Sprintf("subscriptions %q", want), func() bool {
		return slices.Equal(p.Subscriptions(), want)
	})
}

func TestEachSubscriberGetsExactlyTheTopicsItsPrefixesMatch(t *testing.T) {
	p := publisher(t, 1000, false)
	orders := subscribe(t, p.Addr(), "order.")
	users := subscribe(t, p.Addr(), "user.", "admin.")
	waitSubscriptions(t, p, "order.", "user.", "admin.")

	topics := []string{"order.created", "user.signup", "orders.legacy", "admin.login", "order.paid", "other"}
	for i := range 50 {
		for _, topic := range topics {
			if _, err := p.Publish(context.Background(), topic, fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wantOrders, wantUsers []string
	for i := range 50 {
		wantOrders = append(wantOrders, fmt.Sprintf("order.created %d", i), fmt.Sprintf("order.paid %d", i))
		wantUsers = append(wantUsers, fmt.Sprintf("user.signup %d", i), fmt.Sprintf("admin.login %d", i))
	}
	// One publisher, one connection each: ZeroMQ keeps the order.
	testkit.Eventually(t, wait, "the order. subscriber got its 100 messages in order", func() bool {
		return slices.Equal(orders.messages(), wantOrders)
	})
	testkit.Eventually(t, wait, "the user./admin. subscriber got its 100 messages in order", func() bool {
		return slices.Equal(users.messages(), wantUsers)
	})
}

// With when_full: drop, a subscriber that stopped reading misses messages,
// each counted, while the others get every one and Publish never waits.
func TestDropSkipsOnlyTheStalledSubscriberAndCountsEachDrop(t *testing.T) {
	p := publisher(t, 100, true)
	healthy := subscribe(t, p.Addr(), "")
	zeromqtest.StalledSubscriber(t, p.Addr())
	waitSubscriptions(t, p, "", "")

	body := bytes.Repeat([]byte("x"), 1024)
	const batches, batch = 100, 80 // 8 MB: more than the stalled peer's socket buffers hold
	dropped := 0
	for b := range batches {
		for range batch {
			n, err := p.Publish(context.Background(), "t", body)
			if err != nil {
				t.Fatal(err)
			}
			dropped += n
		}
		// Pace the publisher to the healthy subscriber, so only the
		// stalled one can be full.
		testkit.Eventually(t, wait, "the healthy subscriber keeps up", func() bool {
			return len(healthy.messages()) == (b+1)*batch
		})
	}
	if dropped == 0 || dropped > batches*batch {
		t.Fatalf("dropped %d copies; want some (the stalled subscriber's queue of 100 must overflow) and at most %d", dropped, batches*batch)
	}
}

// With block, Publish waits for a stalled subscriber's queue and gives up
// when its context ends: memory stays bounded by the HWM.
func TestBlockWaitsForAStalledSubscriberUntilTheContextEnds(t *testing.T) {
	p := publisher(t, 10, false)
	zeromqtest.StalledSubscriber(t, p.Addr())
	waitSubscriptions(t, p, "")
	body := bytes.Repeat([]byte("x"), 64<<10)
	// Queue (10) plus socket buffers hold some hundreds of these; the
	// context then ends the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for i := 0; ; i++ {
		if _, err := p.Publish(ctx, "t", body); err != nil {
			if ctx.Err() == nil {
				t.Fatalf("Publish failed before its context ended: %v", err)
			}
			break
		}
		if i > 10_000 {
			t.Fatal("Publish never blocked on a subscriber that does not read")
		}
	}
}

// A publisher that sends a frame above the limit is cut off before the
// frame is read, and what it sends after reconnecting gets through.
func TestAFrameAboveTheLimitIsRefused(t *testing.T) {
	p := publisher(t, 100, false)
	in := &inbox{}
	s, err := zeromq.NewSubscriber(zeromq.SubscriberOptions{Endpoints: []string{p.Addr()}, MaxFrameBytes: 1024}, in.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	waitSubscriptions(t, p, "")
	if _, err := p.Publish(context.Background(), "big", bytes.Repeat([]byte("x"), 2048)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, wait, "the subscriber reconnected and got a small message", func() bool {
		_, _ = p.Publish(context.Background(), "small", []byte("ok"))
		return slices.Contains(in.messages(), "small ok")
	})
	for _, m := range in.messages() {
		if len(m) > 1024 {
			t.Fatalf("received a %d-byte message past a 1024-byte limit", len(m))
		}
	}
}

func TestConnectModeReachesASubscriberThatBinds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a free port for the subscriber's socket to bind
	sub := zmq4.NewSub(context.Background())
	t.Cleanup(func() { sub.Close() })
	if err := sub.Listen("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	if err := sub.SetOption(zmq4.OptionSubscribe, "a"); err != nil {
		t.Fatal(err)
	}
	p, err := zeromq.NewPublisher(zeromq.PublisherOptions{Addr: addr, Connect: true, HWM: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	waitSubscriptions(t, p, "a")
	if _, err := p.Publish(context.Background(), "a1", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(bytes.Join(msg.Frames, []byte(" "))); got != "a1 hello" {
		t.Fatalf("got %q; want %q", got, "a1 hello")
	}
}
