package history_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/eventbus-go/eventbus/bus/history"
)

// clock is a time a test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestHistoryKeepsAtMostMaxEventsForgettingTheOldestFirst(t *testing.T) {
	h := history.New(history.Options{MaxEvents: 3})
	for i := range 5 {
		h.Accepted("b", "src", fmt.Sprint(i), []string{"r"}, time.Now())
	}
	for i := range 2 {
		if _, ok := h.Lookup("b", "src", fmt.Sprint(i)); ok {
			t.Errorf("event %d is still known after 5 were accepted into a history of 3: the count bound does not hold", i)
		}
	}
	for i := 2; i < 5; i++ {
		if _, ok := h.Lookup("b", "src", fmt.Sprint(i)); !ok {
			t.Errorf("event %d, one of the 3 latest, is forgotten: only the oldest may go", i)
		}
	}
}

func TestHistoryForgetsEventsOlderThanMaxAge(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	h := history.New(history.Options{MaxEvents: 10, MaxAge: time.Minute, Now: c.now})
	h.Accepted("b", "src", "old", []string{"r"}, c.t)
	c.t = c.t.Add(40 * time.Second)
	h.Accepted("b", "src", "young", []string{"r"}, c.t)
	c.t = c.t.Add(30 * time.Second) // old is 70s old, young 30s
	if _, ok := h.Lookup("b", "src", "old"); ok {
		t.Error("an event accepted 70s ago is still known with max_age 1m")
	}
	if _, ok := h.Lookup("b", "src", "young"); !ok {
		t.Error("an event accepted 30s ago is forgotten with max_age 1m")
	}
	// A new event makes room by forgetting the aged one, and the same key
	// accepted again starts afresh.
	h.Accepted("b", "src", "old", []string{"other"}, c.t)
	e, ok := h.Lookup("b", "src", "old")
	if !ok || len(e.Routes) != 1 || e.Routes[0].Route != "other" {
		t.Errorf("re-accepted aged event = %+v, %v; want a fresh record naming only route other", e, ok)
	}
}

// Accepted records the time ingress took the event in, not the time it
// reached the history, and the event ages from then. A time older than
// the newest event's keeps the ring in order: nothing is forgotten out of
// turn.
func TestHistoryAcceptedCountsFromTheTimeGiven(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	h := history.New(history.Options{MaxEvents: 10, MaxAge: time.Minute, Now: c.now})
	h.Accepted("b", "src", "newer", []string{"r"}, c.t.Add(-10*time.Second))
	took := c.t.Add(-50 * time.Second)
	h.Accepted("b", "src", "older", []string{"r"}, took)
	e, ok := h.Lookup("b", "src", "older")
	if !ok || !e.AcceptedAt.Equal(took) {
		t.Fatalf("event = %+v, %v; want it accepted at %v, the time ingress gave", e, ok, took)
	}
	c.t = c.t.Add(20 * time.Second) // older was taken in 70s ago, newer 30s ago
	if _, ok := h.Lookup("b", "src", "older"); ok {
		t.Error("an event taken in 70s ago is still known with max_age 1m")
	}
	if _, ok := h.Lookup("b", "src", "newer"); !ok {
		t.Error("an event taken in 30s ago is forgotten with max_age 1m")
	}
}

func TestHistoryJoinsAttemptsToTheAcceptedEventByBusSourceAndID(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	h := history.New(history.Options{Now: c.now})
	h.Accepted("b", "src", "1", []string{"r1", "r2"}, c.t)
	h.Attempted("b", "src", "1", "r1", history.Attempt{Verdict: "retry", Status: 503}, history.Retrying)
	h.Attempted("b", "src", "1", "r1", history.Attempt{Verdict: "ack", Status: 200}, history.Delivered)
	h.Attempted("b", "other-src", "1", "r1", history.Attempt{Verdict: "ack"}, history.Delivered)

	e, ok := h.Lookup("b", "src", "1")
	if !ok {
		t.Fatal("accepted event not found")
	}
	if !e.AcceptedAt.Equal(c.t) || len(e.Routes) != 2 {
		t.Fatalf("event = %+v; want accepted at %v with routes r1 and r2", e, c.t)
	}
	r1, r2 := e.Routes[0], e.Routes[1]
	if r1.State != history.Delivered || r1.Attempts != 2 || r1.Latest[0].Status != 503 || r1.Latest[1].Status != 200 {
		t.Errorf("r1 = %+v; want delivered after a 503 then a 200", r1)
	}
	if r2.State != history.Pending || r2.Attempts != 0 {
		t.Errorf("r2 = %+v; want pending with no attempt", r2)
	}
}

func TestHistoryKeepsTheLatestAttemptsAndCountsAll(t *testing.T) {
	h := history.New(history.Options{})
	h.Accepted("b", "s", "1", []string{"r"}, time.Now())
	total := history.MaxAttempts + 5
	for i := range total {
		h.Attempted("b", "s", "1", "r", history.Attempt{Verdict: "retry", Status: 500 + i}, history.Retrying)
	}
	e, _ := h.Lookup("b", "s", "1")
	r := e.Routes[0]
	if r.Attempts != total || len(r.Latest) != history.MaxAttempts || r.Latest[len(r.Latest)-1].Status != 500+total-1 {
		t.Errorf("attempts = %d, kept %d ending with %d; want %d counted, the last %d kept", r.Attempts, len(r.Latest), r.Latest[len(r.Latest)-1].Status, total, history.MaxAttempts)
	}
}

func TestHistoryLookupIsACopy(t *testing.T) {
	h := history.New(history.Options{})
	h.Accepted("b", "s", "1", []string{"r"}, time.Now())
	e, _ := h.Lookup("b", "s", "1")
	h.Attempted("b", "s", "1", "r", history.Attempt{Verdict: "ack"}, history.Delivered)
	if e.Routes[0].State != history.Pending || len(e.Routes[0].Latest) != 0 {
		t.Errorf("an earlier lookup changed after a later attempt: %+v", e.Routes[0])
	}
}

func TestRedriveMarksTheEventPendingAgain(t *testing.T) {
	h := history.New(history.Options{})
	h.Accepted("b", "s", "1", []string{"r"}, time.Now())
	h.Attempted("b", "s", "1", "r", history.Attempt{Verdict: "dead-letter"}, history.DeadLettered)
	h.Redriven("b", "s", "1", "r")
	e, _ := h.Lookup("b", "s", "1")
	if r := e.Routes[0]; r.State != history.Pending || r.RedrivenAt.IsZero() || r.Attempts != 1 {
		t.Errorf("after redrive: %+v; want pending, with its redrive time and its earlier attempt", r)
	}
}

func TestARedriveThatFailedToSendIsTakenBack(t *testing.T) {
	h := history.New(history.Options{})
	h.Accepted("b", "s", "1", []string{"r"}, time.Now())
	h.Attempted("b", "s", "1", "r", history.Attempt{Verdict: "dead-letter"}, history.DeadLettered)
	undo := h.Redriven("b", "s", "1", "r")
	undo()
	e, _ := h.Lookup("b", "s", "1")
	if r := e.Routes[0]; r.State != history.DeadLettered || !r.RedrivenAt.IsZero() || r.Attempts != 1 {
		t.Errorf("after a redrive taken back: %+v; want dead-lettered, never redriven, with its one attempt", r)
	}
}

// Every route of an event keeps its own state and attempts, in the order
// ingress named the routes, and a slot reused by a later event shows
// none of what the earlier one recorded.
func TestHistoryKeepsEachRouteOfAnEventApart(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	h := history.New(history.Options{MaxEvents: 2, Now: c.now})
	h.Accepted("b", "s", "1", []string{"first", "second", "third"}, c.t)
	for i := range history.MaxAttempts + 2 {
		h.Attempted("b", "s", "1", "second", history.Attempt{At: c.t, Verdict: "retry", Status: 500 + i, Reason: "down"}, history.Retrying)
		c.t = c.t.Add(time.Second)
	}
	h.Attempted("b", "s", "1", "third", history.Attempt{At: c.t, Verdict: "ack", Status: 200}, history.Delivered)
	undo := h.Redriven("b", "s", "1", "first")
	undo()
	e, ok := h.Lookup("b", "s", "1")
	if !ok || len(e.Routes) != 3 || e.Routes[0].Route != "first" || e.Routes[1].Route != "second" || e.Routes[2].Route != "third" {
		t.Fatalf("event = %+v, %v; want its three routes in order", e, ok)
	}
	if r := e.Routes[0]; r.State != history.Pending || r.Attempts != 0 || len(r.Latest) != 0 || !r.RedrivenAt.IsZero() {
		t.Errorf("first route = %+v; want pending, never attempted, its redrive taken back", r)
	}
	second := e.Routes[1]
	if second.State != history.Retrying || second.Attempts != history.MaxAttempts+2 || len(second.Latest) != history.MaxAttempts {
		t.Fatalf("second route = %+v; want retrying, %d attempts of which the last %d kept", second, history.MaxAttempts+2, history.MaxAttempts)
	}
	for i, a := range second.Latest {
		if a.Status != 502+i || a.Reason != "down" || !a.At.Equal(time.Unix(1_000_002+int64(i), 0)) {
			t.Fatalf("second route's attempt %d = %+v; want status %d at %v", i, a, 502+i, time.Unix(1_000_002+int64(i), 0))
		}
	}
	if r := e.Routes[2]; r.State != history.Delivered || r.Attempts != 1 || r.Latest[0].Status != 200 {
		t.Errorf("third route = %+v; want delivered at its one attempt", r)
	}

	// Two more events take both slots; the one in the first slot has
	// one route, no attempt, and none of event 1's.
	h.Accepted("b", "s", "2", []string{"other"}, c.t)
	h.Accepted("b", "s", "3", []string{"other"}, c.t)
	if e, ok := h.Lookup("b", "s", "3"); !ok || len(e.Routes) != 1 || e.Routes[0].Route != "other" || e.Routes[0].Attempts != 0 || len(e.Routes[0].Latest) != 0 {
		t.Errorf("event in a reused slot = %+v, %v; want one route, other, never attempted", e, ok)
	}
}

func TestNilHistoryRecordsNothing(t *testing.T) {
	var h *history.History
	h.Accepted("b", "s", "1", nil, time.Now())
	if _, ok := h.Lookup("b", "s", "1"); ok {
		t.Error("a nil history found an event")
	}
}

// BenchmarkAccepted measures recording one event on a full history.
func BenchmarkAccepted(b *testing.B) {
	h := history.New(history.Options{MaxEvents: 10_000})
	ids := make([]string, 1<<14)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	routes := []string{"r"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Accepted("b", "src", ids[i&(len(ids)-1)], routes, time.Now())
	}
}

// The ring starts small and grows: every event up to MaxEvents stays
// known across the growth, in order of age.
func TestHistoryKeepsEveryEventWhileItGrowsToMaxEvents(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	h := history.New(history.Options{MaxEvents: 5000, MaxAge: time.Hour, Now: c.now})
	for i := range 3000 { // past the first ring of 1024
		h.Accepted("b", "s", fmt.Sprint(i), nil, c.t)
		c.t = c.t.Add(time.Second)
	}
	for i := range 8000 {
		h.Accepted("b", "s2", fmt.Sprint(i), nil, c.t)
	}
	for i := 8000 - 5000; i < 8000; i++ {
		if _, ok := h.Lookup("b", "s2", fmt.Sprint(i)); !ok {
			t.Fatalf("event %d, among the 5000 latest, is forgotten", i)
		}
	}
	if _, ok := h.Lookup("b", "s2", fmt.Sprint(8000-5001)); ok {
		t.Error("event 2999 is known: more than max_events are kept")
	}
}

// A quiet bus whose events age out goes round the ring many times, its
// blocks freed behind the oldest event and made again ahead of the newest:
// the events of the last max_age are all there, the older ones are not.
func TestHistoryOfAQuietBusKeepsItsRecentEventsRoundTheRing(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	h := history.New(history.Options{MaxEvents: 5000, MaxAge: time.Minute, Now: c.now})
	for i := range 4 * 5000 { // four times round the ring, six events alive at a time at most
		h.Accepted("b", "s", fmt.Sprint(i), []string{"r"}, c.t)
		c.t = c.t.Add(10 * time.Second)
		if i%997 != 0 {
			continue
		}
		for back := range 5 {
			if _, ok := h.Lookup("b", "s", fmt.Sprint(i-back)); !ok && i-back >= 0 {
				t.Fatalf("after event %d: event %d, accepted %ds ago, is forgotten with max_age 1m", i, i-back, 10*(back+1))
			}
		}
		if _, ok := h.Lookup("b", "s", fmt.Sprint(i-7)); ok {
			t.Fatalf("after event %d: event %d, accepted 80s ago, is still known with max_age 1m", i, i-7)
		}
	}
}

// BenchmarkHeld reports the memory a full history holds per event: a
// default ring of events that matched one route and were delivered at
// the first attempt.
func BenchmarkHeld(b *testing.B) {
	ids := make([]string, history.DefaultMaxEvents)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	routes := []string{"orders"}
	var held uint64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		h := history.New(history.Options{})
		for _, id := range ids {
			h.Accepted("default", "/producer", id, routes, time.Now())
			h.Attempted("default", "/producer", id, "orders", history.Attempt{Verdict: "ack", Status: 200}, history.Delivered)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(h)
	}
	b.ReportMetric(float64(held)/float64(len(ids)), "B/event")
}

// An event the history first hears of from a dispatcher keeps its own
// copies of source and id: a dispatcher's are parts of its message's
// metadata, one string the history must not keep whole.
func TestAnEntryFromADispatcherKeepsNoneOfItsMetadata(t *testing.T) {
	metadata := strings.Repeat("x", 4096) + "/orders" + "order-1"
	source, id := metadata[4096:4103], metadata[4103:]
	within := func(s string) bool {
		start := uintptr(unsafe.Pointer(unsafe.StringData(metadata)))
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return p >= start && p < start+uintptr(len(metadata))
	}
	h := history.New(history.Options{})
	h.Attempted("b", source, id, "r", history.Attempt{Verdict: "ack"}, history.Delivered)
	got, ok := h.Lookup("b", "/orders", "order-1")
	if !ok {
		t.Fatal("the event is not known after an attempt")
	}
	if within(got.Source) || within(got.ID) {
		t.Error("the entry's source or id is part of the string it was given, which it keeps whole")
	}
}
