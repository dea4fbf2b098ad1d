package bus_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eventbus-go/eventbus/adapters/rabbitmq"
	"github.com/eventbus-go/eventbus/adapters/rabbitmq/rabbitmqtest"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// These tests run routes on a real RabbitMQ, named by EVENTBUS_TEST_RABBIT
// (amqp:// or rabbit://). Unset, they skip, except under CI=true. The broker
// restart test also needs EVENTBUS_TEST_RABBIT_CTL=1: it stops and starts
// the local broker with rabbitmqctl, which disturbs every other test using
// it, so run it on its own (scripts/test.sh does).

// rabbitBackend returns the backend URL of the test broker.
func rabbitBackend(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("EVENTBUS_TEST_RABBIT")
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("EVENTBUS_TEST_RABBIT is not set: CI must test against a real RabbitMQ (e.g. amqp://guest:guest@127.0.0.1:5672/)")
		}
		t.Skip("EVENTBUS_TEST_RABBIT is not set (e.g. amqp://guest:guest@127.0.0.1:5672/)")
	}
	if rest, ok := strings.CutPrefix(raw, "amqp://"); ok {
		raw = "rabbit://" + rest
	}
	return raw
}

// flakyTarget is an HTTP target that answers 503 while down and records the
// ids it took while up.
type flakyTarget struct {
	url  string
	down atomic.Bool

	mu  sync.Mutex
	got map[string]int
}

func newFlakyTarget(t *testing.T) *flakyTarget {
	ft := &flakyTarget{got: map[string]int{}}
	ft.down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if ft.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		ft.mu.Lock()
		ft.got[r.Header.Get("Ce-Id")]++
		ft.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	ft.url = srv.URL
	return ft
}

// missing lists the ids not delivered yet.
func (ft *flakyTarget) missing(ids []string) []string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	var out []string
	for _, id := range ids {
		if ft.got[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// startRabbitBus starts a bus with time to close its broker channels.
func startRabbitBus(t *testing.T, cfg bus.Config) *bustest.Server {
	t.Helper()
	cfg.ShutdownTimeout = spec.Duration(10 * time.Second)
	return bustest.Start(t, cfg)
}

// rabbitRoute is a route on the test broker with a unique name, retrying
// every 50-200 ms and never giving up within a test.
func rabbitRoute(t *testing.T, prefix, backend, target string) router.Route {
	return router.Route{
		Name:    fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()),
		Backend: backend,
		Target:  router.Target{HTTP: &router.HTTPTarget{URL: target}},
		Delivery: router.Delivery{
			MaxAttempts: 10_000,
			Backoff:     router.Backoff{Initial: spec.Duration(50 * time.Millisecond), Max: spec.Duration(200 * time.Millisecond)},
		},
	}
}

// deleteRouteAtEnd deletes the route's channels on the broker when the test
// ends, straight through the backend: the route lives in the test's config,
// which the API does not delete from.
func deleteRouteAtEnd(t *testing.T, r router.Route) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		u, err := url.Parse(r.Backend)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		be, err := rabbitmq.Open(ctx, u)
		if err != nil {
			t.Errorf("cleanup: opening the backend to delete route %s's channels: %v", r.Name, err)
			return
		}
		defer be.Close()
		for _, ch := range []string{r.Name, r.Name + router.DeadLetterSuffix} {
			if err := be.DeleteChannel(ctx, ch); err != nil {
				t.Errorf("cleanup: deleting channel %s: %v", ch, err)
			}
		}
	})
}

// rabbitEvent is what the tests here emit: a type the topic test's
// reader binds to.
var rabbitEvent = map[string]string{"ce-source": "/tests/rabbitmq", "ce-type": "test.rabbitmq"}

// emitAll emits one event per id and fails unless each gets 202.
func emitAll(t *testing.T, base string, ids []string) {
	t.Helper()
	for _, id := range ids {
		bustest.Emit(t, base, id, rabbitEvent)
	}
}

func eventIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return ids
}

// deliveredAll waits until the target took every id.
func deliveredAll(t *testing.T, ft *flakyTarget, ids []string, why string) {
	t.Helper()
	testkit.EventuallyNoError(t, 60*time.Second, func() error {
		if m := ft.missing(ids); len(m) > 0 {
			return fmt.Errorf("%d of %d accepted events never delivered (first %s): %s", len(m), len(ids), m[0], why)
		}
		return nil
	})
}

// Events accepted while a route's target is down are the broker's, not the
// process's: a new bus on the same config delivers them once the target is
// up, including the retries that were waiting in delay queues.
func TestRabbitRouteSurvivesBusRestart(t *testing.T) {
	backend := rabbitBackend(t)
	target := newFlakyTarget(t)
	r := rabbitRoute(t, "rabbit-bus-restart", backend, target.url)
	deleteRouteAtEnd(t, r)
	cfg := bus.Config{Routes: []router.Route{r}}

	first := startRabbitBus(t, cfg)
	ids := eventIDs("restart", 50)
	emitAll(t, first.URL, ids)
	testkit.EventuallyNoError(t, 30*time.Second, func() error {
		s, err := first.Bus.Stats(context.Background(), r.Name)
		if err != nil || s.Retried < int64(len(ids)) {
			return fmt.Errorf("stats %+v, %v: want every event attempted and retried before the restart", s, err)
		}
		return nil
	})
	if err := first.Close(); err != nil {
		t.Fatalf("stopping the first bus: %v", err)
	}

	target.down.Store(false)
	startRabbitBus(t, cfg) // the second bus, on the same channels
	deliveredAll(t, target, ids, "events a bus accepted must survive its restart")
}

// Events accepted before RabbitMQ restarts are in its quorum queues after
// it: the bus reconnects by itself and delivers every one, and takes new
// events again once the broker is back.
func TestRabbitRouteSurvivesBrokerRestart(t *testing.T) {
	backend := rabbitBackend(t)
	if os.Getenv("EVENTBUS_TEST_RABBIT_CTL") != "1" {
		t.Skip("set EVENTBUS_TEST_RABBIT_CTL=1 to restart the local broker with rabbitmqctl (it disturbs other tests: run this one alone)")
	}
	// Another test may just have restarted the broker, and this one will,
	// then delete its channels: both can leave it unable to declare a
	// channel until its application restarts.
	if err := rabbitmqtest.Heal(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := rabbitmqtest.AwaitDeclares(backend); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rabbitmqtest.Heal(context.Background()); err != nil {
			t.Error(err)
		}
	})
	target := newFlakyTarget(t)
	r := rabbitRoute(t, "rabbit-broker-restart", backend, target.url)
	deleteRouteAtEnd(t, r)
	b := startRabbitBus(t, bus.Config{Routes: []router.Route{r}})

	before := eventIDs("before", 50)
	emitAll(t, b.URL, before)
	restarted := false
	t.Cleanup(func() {
		if !restarted { // never leave the broker down for the next test
			_ = rabbitmqtest.Ctl(context.Background(), "start_app", "await_startup")
		}
	})
	if err := rabbitmqtest.Ctl(t.Context(), "stop_app"); err != nil {
		t.Fatal(err)
	}
	if status, body, err := bustest.PostEvent(b.URL, "during", rabbitEvent); status != http.StatusServiceUnavailable {
		t.Errorf("emit while the broker is down: status %d %s %v; want 503, so the producer retries", status, body, err)
	}
	if err := rabbitmqtest.Ctl(t.Context(), "start_app", "await_startup"); err != nil {
		t.Fatal(err)
	}
	restarted = true

	after := eventIDs("after", 10)
	for _, id := range after {
		testkit.EventuallyNoError(t, 30*time.Second, func() error {
			if status, body, err := bustest.PostEvent(b.URL, id, rabbitEvent); status != http.StatusAccepted {
				return fmt.Errorf("emit %s after the broker came back: status %d %s %v; want 202 once the bus reconnected", id, status, body, err)
			}
			return nil
		})
	}
	target.down.Store(false)
	deliveredAll(t, target, append(before, after...), "events confirmed by RabbitMQ must survive its restart")
}

// A route whose target is a RabbitMQ topic publishes there in CloudEvents
// binary mode: a reader using nothing but amqp091 binds its own queue to
// the exchange named as the topic and reads the event from the
// cloudEvents:* headers, the content type and the body.
func TestRabbitTopicTargetIsReadableWithPlainAMQP(t *testing.T) {
	backend := rabbitBackend(t)
	topic := fmt.Sprintf("orders-%d", time.Now().UnixNano())
	r := router.Route{
		Name:    "rabbit-topic-" + topic,
		Backend: backend,
		Target:  router.Target{Topic: &router.TopicTarget{URL: backend, Name: topic}},
	}
	deleteRouteAtEnd(t, r)
	b := startRabbitBus(t, bus.Config{Routes: []router.Route{r}})

	// The reader: plain amqp091, its own queue bound to every event type.
	conn, err := amqp.Dial("amqp://" + strings.TrimPrefix(backend, "rabbit://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.ExchangeDelete(topic, false, false) }) // the reader owns the topic
	q, err := ch.QueueDeclare("", false, true, true, false, nil)     // exclusive: gone with the connection
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "test.#", topic, false, nil); err != nil {
		t.Fatalf("binding to the topic's exchange %q: %v (the bus declares it when the route starts)", topic, err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	emitAll(t, b.URL, []string{"topic-1"})
	var d amqp.Delivery
	select {
	case d = <-deliveries:
	case <-time.After(10 * time.Second):
		t.Fatal("no message on the topic within 10s: a route's topic target must publish every event it takes")
	}
	want := map[string]string{
		"cloudEvents:specversion": "1.0",
		"cloudEvents:id":          "topic-1",
		"cloudEvents:source":      "/tests/rabbitmq",
		"cloudEvents:type":        "test.rabbitmq",
	}
	for k, v := range want {
		if got, _ := d.Headers[k].(string); got != v {
			t.Errorf("header %s = %q, want %q: readers rely on the CloudEvents AMQP binding (headers %v)", k, got, v, d.Headers)
		}
	}
	for k := range d.Headers {
		if strings.HasPrefix(k, "eventbus-") {
			t.Errorf("header %s on the topic: the bus's bookkeeping must stay on its own queues", k)
		}
	}
	if d.ContentType != "application/json" || string(d.Body) != `{"n":"topic-1"}` || d.RoutingKey != "test.rabbitmq" {
		t.Errorf("content type %q, body %q, routing key %q; want application/json, the event's data, and its type as routing key", d.ContentType, d.Body, d.RoutingKey)
	}
	if d.DeliveryMode != amqp.Persistent {
		t.Errorf("delivery mode %d, want persistent (%d): a topic's readers may keep durable queues", d.DeliveryMode, amqp.Persistent)
	}
}

// On RabbitMQ, keys hash onto single-active-consumer lanes: a failing key
// holds its lane only, and every key keeps its order.
func TestRabbitOrderingKeyHoldsOrderUnderFailure(t *testing.T) {
	checkOrderUnderFailure(t, "rabbit-ordered", rabbitBackend(t))
}
