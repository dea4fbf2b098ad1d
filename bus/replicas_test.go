package bus

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
)

// Two bus processes that share a store see each other's routes: a route
// created on one is live on the other once the store announces it, and a
// deleted one goes away.
func TestReplicasSharingAStoreConverge(t *testing.T) {
	shared := store.NewMemory()
	one, two := startReplica(t, shared, Config{}), startReplica(t, shared, Config{})
	r := router.Route{Name: "shared", Paused: true, Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/"}}}
	if _, _, err := one.PutRoute(context.Background(), r, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the route on the second replica", func() bool {
		got, ok := two.Route("shared")
		return ok && got.Version == 1 && got.Origin == router.OriginAPI
	})
	r.Paused = false
	if _, _, err := two.PutRoute(context.Background(), r, 1); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the update on the first replica", func() bool {
		got, _ := one.Route("shared")
		return got.Version == 2 && !got.Paused
	})
	if err := one.DeleteRoute(context.Background(), "shared", store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the delete on the second replica", func() bool {
		_, ok := two.Route("shared")
		return !ok
	})
}

// startReplica starts a bus with cfg on the shared store, as one of several
// replicas, and shuts it down when the test ends.
func startReplica(t *testing.T, shared store.Store, cfg Config) *Bus {
	t.Helper()
	b, err := newWithStore(context.Background(), cfg.WithDefaults(), shared, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	return b
}
