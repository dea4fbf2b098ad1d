package bus

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/bus/schedule"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/bus/store/storetest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t atomic.Pointer[time.Time] }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.set(t)
	return c
}

func (c *fakeClock) now() time.Time  { return *c.t.Load() }
func (c *fakeClock) set(t time.Time) { c.t.Store(&t) }

// receiver is an HTTP target that counts the deliveries of each event id.
type receiver struct {
	mu   sync.Mutex
	seen map[string]int
	time map[string]string
	URL  string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{seen: map[string]int{}, time: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		id := req.Header.Get("Ce-Id")
		r.seen[id]++
		r.time[id] = req.Header.Get("Ce-Time")
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *receiver) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id]
}

func (r *receiver) total() (ids, deliveries int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.seen {
		ids++
		deliveries += n
	}
	return ids, deliveries
}

// A cron schedule fires once a minute, and once only although two replicas
// share the store and both see it due: the one whose compare-and-set of the
// last firing wins emits, the other does not.
func TestCronScheduleFiresEachMinuteOnceAcrossTwoReplicas(t *testing.T) {
	url := storetest.PostgresURL(t)
	table := storetest.PostgresTable(t, url)
	start := time.Date(2026, 3, 1, 9, 0, 30, 0, time.UTC)
	clock := newFakeClock(start)
	replica := func() *Bus {
		st, err := store.OpenPostgresTable(t.Context(), url, table)
		if err != nil {
			t.Fatal(err)
		}
		return startReplica(t, st, Config{Clock: clock.now})
	}
	one, two := replica(), replica()
	got := newReceiver(t)
	if _, _, err := one.PutRoute(t.Context(), router.Route{Name: "ticks", Match: []byte(`{"type":["tick"]}`),
		Target: router.Target{HTTP: &router.HTTPTarget{URL: got.URL}}}, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	s := schedule.Schedule{Name: "every-minute", Cron: "* * * * *", Event: schedule.Template{Type: "tick", Data: []byte(`{"n":1}`)}}
	if _, _, err := two.PutSchedule(t.Context(), s, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "both replicas to know the route and the schedule", func() bool {
		_, r1 := one.Route("ticks")
		_, r2 := two.Route("ticks")
		_, s1 := one.ScheduleNamed(s.Name)
		_, s2 := two.ScheduleNamed(s.Name)
		return r1 && r2 && s1 && s2
	})

	const minutes = 5
	for i := 1; i <= minutes; i++ {
		firing := start.Truncate(time.Minute).Add(time.Duration(i) * time.Minute)
		clock.set(firing.Add(15 * time.Second))
		// Both replicas look at once, besides their own ticks, so that
		// both find the firing due before either has heard of the other's.
		var wg sync.WaitGroup
		wg.Go(func() { one.fireDue(t.Context()) })
		wg.Go(func() { two.fireDue(t.Context()) })
		wg.Wait()
		id := schedule.ID(s.Name, firing)
		testkit.Eventually(t, 15*time.Second, "the firing of "+id+" to be delivered", func() bool { return got.count(id) > 0 })
		testkit.Eventually(t, 10*time.Second, "both replicas to learn of the firing of "+id, func() bool {
			a, _ := one.ScheduleNamed(s.Name)
			b, _ := two.ScheduleNamed(s.Name)
			return a.LastFired != nil && a.LastFired.Equal(firing) && b.LastFired != nil && b.LastFired.Equal(firing)
		})
		if n := got.count(id); n != 1 {
			t.Fatalf("the firing at %v was delivered %d times; want once across the replicas", firing, n)
		}
		if at := got.time[id]; at != firing.Format(time.RFC3339) {
			t.Errorf("the event of the firing at %v has time %q; want the firing time", firing, at)
		}
	}
	if ids, deliveries := got.total(); ids != minutes || deliveries != minutes {
		t.Fatalf("%d deliveries of %d events in %d minutes; want one per minute", deliveries, ids, minutes)
	}
}

// A one-time schedule fires at its time, in its time zone, and never again.
func TestOneTimeScheduleFiresOnceAtItsTime(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 12, 24, 16, 0, 0, 0, time.UTC))
	b := startReplica(t, store.NewMemory(), Config{Clock: clock.now})
	got := newReceiver(t)
	putRouteInternal(t, b, router.Route{Name: "eve", Match: []byte(`{"type":["xmas.eve"]}`), Target: router.Target{HTTP: &router.HTTPTarget{URL: got.URL}}})
	s := schedule.Schedule{Name: "eve", At: "2026-12-24T18:00:00", TimeZone: "Europe/Paris", Event: schedule.Template{Type: "xmas.eve"}}
	if _, _, err := b.PutSchedule(t.Context(), s, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 24, 17, 0, 0, 0, time.UTC) // 18:00 in Paris
	shown, _ := b.ScheduleNamed("eve")
	if shown.Next == nil || !shown.Next.Equal(at) {
		t.Fatalf("schedule shows next %v; want %v, 18:00 in Europe/Paris", shown.Next, at)
	}
	clock.set(at.Add(-time.Second))
	b.fireDue(t.Context())
	if _, n := got.total(); n != 0 {
		t.Fatalf("fired %d events before its time", n)
	}
	clock.set(at.Add(time.Hour))
	testkit.Eventually(t, 10*time.Second, "the one-time firing to be delivered", func() bool { return got.count(schedule.ID("eve", at)) == 1 })
	clock.set(at.Add(48 * time.Hour))
	b.fireDue(t.Context())
	b.fireDue(t.Context())
	shown, _ = b.ScheduleNamed("eve")
	if _, n := got.total(); n != 1 || shown.Next != nil {
		t.Fatalf("after its time: %d deliveries, next %v; want it fired once and nothing next", n, shown.Next)
	}
}

func putRouteInternal(t *testing.T, b *Bus, r router.Route) {
	t.Helper()
	if _, _, err := b.PutRoute(t.Context(), r, store.AnyVersion); err != nil {
		t.Fatalf("PutRoute %s: %v", r.Name, err)
	}
}

// Schemas and schedules are kept in the embedded store: after a restart the
// bus still enforces the schema, and the schedule resumes from its last
// firing rather than firing it again.
func TestSchemasAndSchedulesSurviveARestartOnBolt(t *testing.T) {
	path := t.TempDir() + "/eventbus.db"
	clock := newFakeClock(time.Date(2026, 5, 1, 12, 0, 10, 0, time.UTC))
	open := func() *Bus {
		st, err := store.OpenBolt(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := newWithStore(t.Context(), Config{Clock: clock.now}.WithDefaults(), st, slogDiscard())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := open()
	if _, _, _, err := first.PutSchema(t.Context(), "tick", []byte(`{"type":"object","required":["n"]}`), store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, _, err := first.PutBus(t.Context(), router.Bus{Name: router.DefaultBus, Schemas: router.SchemasEnforce}, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, _, err := first.PutSchedule(t.Context(), schedule.Schedule{Name: "m", Cron: "* * * * *", Event: schedule.Template{Type: "tick", Data: []byte(`{"n":1}`)}}, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	clock.set(clock.now().Add(time.Minute))
	first.fireDue(t.Context())
	fired, _ := first.ScheduleNamed("m")
	if fired.LastFired == nil {
		t.Fatal("the schedule did not fire before the restart")
	}
	if err := first.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	second := open()
	t.Cleanup(func() { _ = second.Shutdown(context.Background()) })
	s, ok := second.ScheduleNamed("m")
	if !ok || s.LastFired == nil || !s.LastFired.Equal(*fired.LastFired) {
		t.Fatalf("after a restart the schedule is %+v; want it with its last firing %v", s, fired.LastFired)
	}
	e := newTestEvent("no-n", "tick", `{}`)
	results, err := second.Ingest(t.Context(), router.DefaultBus, []*event.Event{e})
	if err != nil || results[0].Err == nil || !strings.Contains(results[0].Err.Error(), "data.n") {
		t.Fatalf("after a restart an event without n got %+v, %v; want it refused naming data.n", results, err)
	}
}

func newTestEvent(id, typ, data string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/test")
	e.SetType(typ)
	_ = e.SetData(event.ApplicationJSON, []byte(data))
	return &e
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// A firing whose event could not be stored (its route was full) is undone,
// and fired again at the next tick once there is room: it is not lost, and
// the schedule does not stop.
func TestAFiringThatCouldNotBeStoredIsFiredAgain(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock(time.Date(2026, 12, 24, 16, 0, 0, 0, time.UTC))
	b := startReplica(t, store.NewMemory(), Config{Clock: clock.now})
	r := router.Route{Name: "ticks", Match: []byte(`{"type":["tick"]}`), Paused: true,
		Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/"}}, Delivery: router.Delivery{MaxDepth: 1}}
	putRouteInternal(t, b, r)
	filler := event.New()
	filler.SetID("filler")
	filler.SetSource("/test")
	filler.SetType("tick")
	if res, err := b.Ingest(ctx, "default", []*event.Event{&filler}); err != nil || res[0].Err != nil {
		t.Fatalf("filling the route: %v %v", err, res)
	}
	if _, _, err := b.PutSchedule(ctx, schedule.Schedule{Name: "tick", Cron: "* * * * *", Event: schedule.Template{Type: "tick"}}, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	depth := func() int64 {
		b.mu.Lock()
		lr := b.routes["ticks"]
		b.mu.Unlock()
		n, err := lr.backend.Depth(ctx, "ticks")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	clock.set(time.Date(2026, 12, 24, 16, 1, 1, 0, time.UTC))
	b.fireDue(ctx) // the route is full: the firing fails and is undone
	if n := depth(); n != 1 {
		t.Fatalf("depth %d after a firing into a full route; want 1, the filler only", n)
	}
	r.Delivery.MaxDepth = 10
	putRouteInternal(t, b, r)
	b.fireDue(ctx)
	if n := depth(); n != 2 {
		t.Fatalf("depth %d once the route had room; want 2: the 16:01 firing, fired again", n)
	}
}
