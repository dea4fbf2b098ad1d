package bus

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
)

// Replicas sharing a store count each other through its heartbeats, and a
// replica that shuts down stops counting at once.
func TestReplicasCountEachOtherThroughTheStore(t *testing.T) {
	shared := store.NewMemory()
	one := startReplica(t, shared, Config{})
	two := startReplica(t, shared, Config{})
	testkit.Eventually(t, 10*time.Second, "both replicas counting two", func() bool {
		return one.liveReplicas() == 2 && two.liveReplicas() == 2
	})
	if err := two.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the first counting itself alone after the second left", func() bool {
		return one.liveReplicas() == 1
	})
}

// delivery.rate is the cluster's: with two replicas, each delivers at half
// of it. 81 deliveries of a 40/s route through one replica of two take at
// least 80 intervals at 20/s, 4 s; alone it would take 2 s. (A loaded
// machine only makes it slower, so only the lower bound is checked.)
func TestARouteRateIsSharedByTheReplicas(t *testing.T) {
	var delivered atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { delivered.Add(1) }))
	t.Cleanup(hook.Close)
	shared := store.NewMemory()
	one := startReplica(t, shared, Config{})
	two := startReplica(t, shared, Config{})
	r := router.Route{Name: "paced", Paused: true, Target: router.Target{HTTP: &router.HTTPTarget{URL: hook.URL}}}
	r.Delivery.Rate = "40/s"
	if _, _, err := one.PutRoute(context.Background(), r, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	// The in-memory backend is per process: these events wait on the first
	// replica's channel, and only it delivers them.
	for i := range 100 {
		ingest(t, one, fmt.Sprint(i))
	}
	testkit.Eventually(t, 10*time.Second, "both replicas counting two", func() bool {
		return one.liveReplicas() == 2 && two.liveReplicas() == 2
	})
	r.Paused = false
	start := time.Now()
	if _, _, err := one.PutRoute(context.Background(), r, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "81 deliveries", func() bool { return delivered.Load() >= 81 })
	if elapsed := time.Since(start); elapsed < 3600*time.Millisecond {
		t.Fatalf("81 deliveries took %v; at this replica's share of 40/s (20/s) they take at least 4s (-10%%): two replicas together would deliver at twice the route's rate", elapsed)
	}
}

// max_depth counts the broker's events, not one replica's: events stored
// through one replica and delivered by the other leave room for more. With
// one count per replica, the first would refuse everything after
// max_depth events, though the channel is empty.
func TestMaxDepthFollowsTheBrokerAcrossReplicas(t *testing.T) {
	backend := rabbitURL(t)
	var delivered atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { delivered.Add(1) }))
	t.Cleanup(hook.Close)
	shared := store.NewMemory()
	ingress := startReplica(t, shared, Config{})
	startReplica(t, shared, Config{})
	name := fmt.Sprintf("capped-%d", time.Now().UnixNano())
	r := router.Route{Name: name, Backend: backend, Target: router.Target{HTTP: &router.HTTPTarget{URL: hook.URL}}}
	r.Delivery.MaxDepth = 5
	r.Delivery.Overflow = router.OverflowReject
	if _, _, err := ingress.PutRoute(context.Background(), r, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ingress.DeleteRoute(context.Background(), name, store.AnyVersion) })
	const events = 40
	for i := range events {
		id := fmt.Sprint(i)
		testkit.EventuallyNoError(t, 20*time.Second, func() error {
			res, err := ingress.Ingest(context.Background(), router.DefaultBus, []*event.Event{newEvent(id, "t")})
			if err != nil {
				return err
			}
			if res[0].Err != nil {
				return fmt.Errorf("event %s (%d delivered so far): %v; the channel drains, so room must come back", id, delivered.Load(), res[0].Err)
			}
			return nil
		})
	}
	testkit.Eventually(t, 30*time.Second, "every event delivered", func() bool { return delivered.Load() >= events })
}

func ingest(t *testing.T, b *Bus, id string) {
	t.Helper()
	res, err := b.Ingest(context.Background(), router.DefaultBus, []*event.Event{newEvent(id, "t")})
	if err != nil || res[0].Err != nil {
		t.Fatalf("ingest %s: %v %+v", id, err, res)
	}
}

// rabbitURL is the test broker as a backend URL (EVENTBUS_TEST_RABBIT);
// unset, the test skips, except under CI=true.
func rabbitURL(t *testing.T) string {
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
