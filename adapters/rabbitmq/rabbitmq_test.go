package rabbitmq_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
	"github.com/eventbus-go/eventbus/adapters/rabbitmq"
	"github.com/eventbus-go/eventbus/adapters/rabbitmq/rabbitmqtest"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/internal/testkit"
)

// brokerURL is the broker the tests use, from EVENTBUS_TEST_RABBIT: a
// backend URL (rabbit://guest:guest@127.0.0.1:5672/) or the same address as
// amqp://, with query as its options.
func brokerURL(t *testing.T, query string) *url.URL {
	u := adaptertest.Server{
		Env:   "EVENTBUS_TEST_RABBIT",
		Start: "EVENTBUS_TEST_RABBIT=rabbit://guest:guest@127.0.0.1:5672/",
	}.URL(t)
	if u.Scheme == "amqp" {
		u.Scheme = rabbitmq.Scheme
	}
	u.RawQuery = query
	return u
}

func TestConformance(t *testing.T) {
	u := brokerURL(t, "max_message_bytes=1048576")
	h := adaptertest.Harness{
		Open: func(ctx context.Context) (adapters.Driver, error) { return rabbitmq.Open(ctx, u) },
	}
	// Stopping the broker disturbs anything else using it, so the outage
	// test runs only when asked for.
	if os.Getenv("EVENTBUS_TEST_RABBIT_CTL") == "1" {
		h.Outage = &adaptertest.Outage{
			Stop: func(ctx context.Context) error { return rabbitmqtest.Ctl(ctx, "stop_app") },
			Start: func(ctx context.Context) error {
				if err := rabbitmqtest.Ctl(ctx, "start_app", "await_startup"); err != nil {
					return err
				}
				if err := rabbitmqtest.AwaitLeaders(ctx); err != nil {
					return err
				}
				return rabbitmqtest.AwaitDeclares(u.String())
			},
		}
		// Deleting the suite's channels right after the restart can
		// leave the broker unable to declare the next test's.
		t.Cleanup(func() {
			if err := rabbitmqtest.Heal(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	adaptertest.Run(t, h)
}

// openChannel opens a backend on u, wrapped as the bus wraps it, ensures a
// fresh channel named after prefix and opens it for sending; cleanup
// deletes and closes them all. It returns the driver too, for the hooks of
// export_test.go.
func openChannel(t *testing.T, u *url.URL, prefix string) (adapters.Driver, *adapters.Backend, string, *adapters.Channel) {
	var d adapters.Driver
	b, ch, top := adaptertest.OpenChannel(t, func(ctx context.Context) (adapters.Driver, error) {
		var err error
		d, err = rabbitmq.Open(ctx, u)
		return d, err
	}, prefix)
	return d, b, ch, top
}

func TestUnknownOptionIsRefused(t *testing.T) {
	u := &url.URL{Scheme: rabbitmq.Scheme, Host: "127.0.0.1:5672", Path: "/", RawQuery: "prefech=4"}
	_, err := rabbitmq.Open(t.Context(), u)
	if errcode.Of(err) != errcode.InvalidArgument || !strings.Contains(err.Error(), "prefetch") {
		t.Fatalf("Open(%s) = %v, want invalid_argument listing the known options: a typo must not be ignored", u, err)
	}
}

// The queue's x-delivery-limit bounds redelivery: past it the broker moves
// the message to the channel's dead-letter channel, which the provisioner
// exposes as "<channel>.dlq".
func TestDeliveryLimitMovesMessageToDeadLetterChannel(t *testing.T) {
	ctx := t.Context()
	_, b, ch, top := openChannel(t, brokerURL(t, "delivery_limit=1"), "rabbit-dlq")
	ev := &adapters.Message{Metadata: map[string]string{"specversion": "1.0", "id": "poison", "source": "/t", "type": "t"}}
	if err := top.Send(ctx, ev); err != nil {
		t.Fatal(err)
	}
	sub, err := b.OpenSubscription(ctx, ch, adapters.SubscriptionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Shutdown(context.Background()) })
	for range 2 { // the first delivery and the one redelivery the limit allows
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := sub.Receive(rctx)
		cancel()
		if err != nil {
			t.Fatalf("Receive: %v; want the message redelivered up to delivery_limit", err)
		}
		m.Nack()
	}
	testkit.EventuallyNoError(t, 10*time.Second, func() error {
		if n, err := b.Depth(ctx, ch+".dlq"); err != nil || n != 1 {
			return fmt.Errorf("Depth(%s.dlq) = %d, %v; want 1: a message nacked past delivery_limit must be dead-lettered, not requeued forever", ch, n, err)
		}
		return nil
	})
	// The bus ensures a route's dead-letter channel by name too: that
	// declares what EnsureChannel(ch) declared, and keeps its messages.
	if err := b.EnsureChannel(ctx, ch+".dlq"); err != nil {
		t.Fatalf("EnsureChannel(%s.dlq) = %v, want nil: a dead-letter channel is ensured like any other", ch, err)
	}
	if n, err := b.Depth(ctx, ch+".dlq"); err != nil || n != 1 {
		t.Fatalf("Depth(%s.dlq) after ensuring it = %d, %v; want the 1 dead letter kept", ch, n, err)
	}

	other, err := rabbitmq.Open(ctx, brokerURL(t, "delivery_limit=5"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	if err := other.EnsureChannel(ctx, ch); errcode.Of(err) != errcode.FailedPrecondition {
		t.Fatalf("EnsureChannel with another delivery_limit = %v, want failed_precondition: an existing queue's arguments cannot change silently", err)
	}
}

// After the connection drops, the backend reconnects by itself; a delivery
// of the dead connection is redelivered, and its late ack is not sent on the
// new channel, where its delivery tag would name another message.
func TestReconnectRedeliversAndDropsStaleAcks(t *testing.T) {
	ctx := t.Context()
	d, b, ch, top := openChannel(t, brokerURL(t, ""), "rabbit-reconnect")
	sub, err := b.OpenSubscription(ctx, ch, adapters.SubscriptionOptions{MaxInflight: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Shutdown(context.Background()) })

	send := func(id string) error {
		return top.Send(ctx, &adapters.Message{Metadata: map[string]string{"specversion": "1.0", "id": id, "source": "/t", "type": "t"}})
	}
	receive := func() *adapters.Received {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		m, err := sub.Receive(rctx)
		if err != nil {
			t.Fatalf("Receive: %v; want every message after a reconnect", err)
		}
		return m
	}
	for _, id := range []string{"a", "b"} {
		if err := send(id); err != nil {
			t.Fatal(err)
		}
	}
	stale := receive()
	if err := rabbitmq.DropConnection(d); err != nil {
		t.Fatal(err)
	}
	stale.Ack() // its channel is gone: must not be sent on the next one

	got := map[string]int{}
	for got["a"] == 0 || got["b"] == 0 {
		m := receive()
		got[m.Metadata["id"]]++
		m.Ack()
	}
	testkit.EventuallyNoError(t, 10*time.Second, func() error {
		err := send("c")
		if err != nil && errcode.Of(err) != errcode.Unavailable {
			t.Fatalf("Send after reconnecting: %v; want success, or Unavailable until the backend is back", err)
		}
		if err != nil {
			return fmt.Errorf("Send after reconnecting: %v; want success once the backend is back", err)
		}
		return nil
	})
	if m := receive(); m.Metadata["id"] != "c" {
		t.Fatalf("received %q, want c: a and b were acked on the new channel and must not come back", m.Metadata["id"])
	} else {
		m.Ack()
	}
}

// A channel whose queue was deleted behind the bus's back (its exchange is
// still there) must fail every publish as NotFound, not confirm messages
// that reached no queue: the broker returns them, and each concurrent
// publish must learn of its own return, whichever publish collects it.
func TestUnroutableSendsFailAsNotFound(t *testing.T) {
	ctx := t.Context()
	u := brokerURL(t, "")
	d, _, ch, top := openChannel(t, u, "rabbit-unroutable")
	send := func(id string) error {
		return top.Send(ctx, &adapters.Message{Metadata: map[string]string{"specversion": "1.0", "id": id, "source": "/t", "type": "t"}})
	}
	if err := send("routed"); err != nil {
		t.Fatal(err)
	}

	plain := *u
	plain.Scheme = "amqp"
	conn, err := amqp.Dial(plain.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	admin, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.QueueDelete(rabbitmq.QueueName(d, ch), false, false, false); err != nil {
		t.Fatal(err)
	}

	const sends = 64
	errs := make(chan error, sends)
	for i := range sends {
		go func() { errs <- send(fmt.Sprint("unroutable-", i)) }()
	}
	for range sends {
		if err := <-errs; errcode.Of(err) != errcode.NotFound || !strings.Contains(err.Error(), "unroutable") {
			t.Fatalf("Send with the queue deleted = %v, want not_found saying the message was unroutable: an event no queue took must not be reported stored", err)
		}
	}
}
