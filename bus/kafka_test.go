package bus_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// kafkaBackend returns a kafka:// backend URL with query as its options: the
// cluster named by EVENTBUS_TEST_KAFKA (a kafka:// URL or host:port), or
// else a kfake broker in this process for the length of the test, so these
// tests never skip.
func kafkaBackend(t *testing.T, query string) string {
	t.Helper()
	hosts := os.Getenv("EVENTBUS_TEST_KAFKA")
	if hosts == "" {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
		if err != nil {
			t.Fatalf("starting kfake: %v", err)
		}
		t.Cleanup(c.Close)
		hosts = strings.Join(c.ListenAddrs(), ",")
	}
	hosts = strings.TrimPrefix(hosts, "kafka://")
	hosts, _, _ = strings.Cut(hosts, "?")
	return "kafka://" + hosts + "?" + query
}

// Events with the same ordering key reach the target one at a time and in
// order through Kafka, while one key's target fails and retries; the other
// keys keep flowing meanwhile, including those that share its partition
// (two partitions for ten keys).
func TestKafkaOrderingKeyHoldsOrderUnderFailure(t *testing.T) {
	checkOrderUnderFailure(t, "kafka-ordered", kafkaBackend(t, "partitions=2"))
}

// checkOrderUnderFailure sends 1,000 events over 10 keys (the subject is
// the route's ordering key) through a route on backend to an HTTP target
// that fails one key, and checks that every key's events arrived, each
// once, in the order sent, never two of a key at once, and that the other
// keys' events kept arriving while the failing key waited to retry. The
// SQS test runs it too, on FIFO queues.
func checkOrderUnderFailure(t *testing.T, prefix, backend string) {
	const keys, perKey = 10, 100
	target := newOrderedTarget(t, keys, perKey)
	srv := bustest.Start(t, bus.Config{})
	base, b := srv.URL, srv.Bus
	r := router.Route{
		Name:    fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()),
		Backend: backend,
		Target:  router.Target{HTTP: &router.HTTPTarget{URL: target.url}},
		Delivery: router.Delivery{
			OrderingKey: "subject",
			MaxInflight: 16,
			MaxAttempts: 10_000,
			Backoff:     router.Backoff{Initial: spec.Duration(10 * time.Millisecond), Max: spec.Duration(50 * time.Millisecond)},
		},
	}
	putRoute(t, b, r)
	// Registered after bustest.Start, so it runs before the bus stops: deleting
	// through the API removes the route's channels on the backend.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.DeleteRoute(ctx, r.Name, store.AnyVersion); err != nil {
			t.Errorf("deleting route %s and its channels: %v", r.Name, err)
		}
	})

	// Round robin over the keys, one event at a time: a key's events are
	// accepted in order, and the failing key's first failure comes while
	// the other keys still have most of their events to go.
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range perKey {
		for k := range keys {
			if err := emitKeyed(client, base, orderedKey(k), i); err != nil {
				t.Fatal(err)
			}
		}
	}
	testkit.EventuallyNoError(t, 25*time.Second, target.incomplete)

	target.mu.Lock()
	defer target.mu.Unlock()
	for k := range keys {
		key := orderedKey(k)
		if why := outOfSequence(target.got[key], perKey); why != "" {
			t.Errorf("key %s: %s; want events 0 to %d once each, in order: an ordered route delivers a key's events in the order accepted", key, why, perKey-1)
		}
	}
	if len(target.overlaps) > 0 {
		t.Errorf("events of one key in delivery at once: %v; an ordered route delivers a key's events one at a time", target.overlaps)
	}
	if target.heldFailures == 0 {
		t.Fatalf("key %s's event 3 never failed: the other keys were all delivered before it arrived, so this run shows nothing about them flowing past a failing key", orderedKey(0))
	}
	flowed := target.othersAtRelease - target.othersAtFirstFailure
	if flowed <= 0 {
		t.Errorf("the other keys' events taken while key %s retried: %d (from %d to %d); want some: one key's failure must not hold up the others",
			orderedKey(0), flowed, target.othersAtFirstFailure, target.othersAtRelease)
	}
	t.Logf("while key %s's event 3 failed %d times, the other keys delivered %d events", orderedKey(0), target.heldFailures, flowed)
}

func orderedKey(k int) string { return "k" + strconv.Itoa(k) }

// emitKeyed POSTs event i of key in binary mode, with id KEY-I and the key
// as subject, and expects 202.
func emitKeyed(client *http.Client, base, key string, i int) error {
	req, err := http.NewRequest(http.MethodPost, base+"/events", strings.NewReader(`{"i":`+strconv.Itoa(i)+`}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", fmt.Sprintf("%s-%d", key, i))
	req.Header.Set("Ce-Source", "/tests/ordering")
	req.Header.Set("Ce-Type", "test.ordering")
	req.Header.Set("Ce-Subject", key)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("emit %s-%d: %w", key, i, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("emit %s-%d: status %d %s; want 202", key, i, resp.StatusCode, body)
	}
	return nil
}

// outOfSequence says where got first differs from 0, 1, …, n-1, or "".
func outOfSequence(got []int, n int) string {
	for i, v := range got {
		if v != i {
			return fmt.Sprintf("the target took event %d in place %d (%v…)", v, i, got[:min(len(got), i+5)])
		}
	}
	if len(got) != n {
		return fmt.Sprintf("the target took %d events", len(got))
	}
	return ""
}

// orderedTarget is the HTTP target of the ordering tests. Key k0 fails:
// its event 3 is answered 500 until every event of the other keys has
// arrived, and every 7th event after it (10, 17, …) is answered 500 once.
// Every other answer is 200.
type orderedTarget struct {
	url          string
	keys, perKey int

	mu       sync.Mutex
	got      map[string][]int // per key, the events taken (2xx), in arrival order
	inflight map[string]bool
	overlaps []string     // "KEY-I" of each event that arrived while one of its key was in delivery
	failed   map[int]bool // k0's events answered 500 once already
	others   int          // events of keys other than k0 taken
	// Of k0's event 3: how often it failed, and how many events of the
	// other keys had been taken at its first failure and at its success.
	heldFailures                          int
	othersAtFirstFailure, othersAtRelease int
}

func newOrderedTarget(t *testing.T, keys, perKey int) *orderedTarget {
	ot := &orderedTarget{
		keys: keys, perKey: perKey,
		got: map[string][]int{}, inflight: map[string]bool{}, failed: map[int]bool{},
		othersAtFirstFailure: -1,
	}
	srv := httptest.NewServer(http.HandlerFunc(ot.serve))
	t.Cleanup(srv.Close)
	ot.url = srv.URL
	return ot
}

func (ot *orderedTarget) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	key := r.Header.Get("Ce-Subject")
	id := r.Header.Get("Ce-Id")
	i, err := strconv.Atoi(strings.TrimPrefix(id, key+"-"))
	if err != nil {
		http.Error(w, "event id "+id+" is not KEY-N", http.StatusBadRequest)
		return
	}
	status := ot.begin(key, id, i)
	w.WriteHeader(status)
	// The answer leaves when this handler returns: until then the bus
	// cannot know the outcome, so any other event of this key that arrives
	// before end is one the bus sent too early.
	ot.end(key, i, status)
}

// begin notes that event i of key arrived and decides the answer.
func (ot *orderedTarget) begin(key, id string, i int) int {
	ot.mu.Lock()
	defer ot.mu.Unlock()
	if ot.inflight[key] {
		ot.overlaps = append(ot.overlaps, id)
	}
	ot.inflight[key] = true
	if key != orderedKey(0) {
		return http.StatusOK
	}
	switch {
	case i == 3 && ot.others < (ot.keys-1)*ot.perKey:
		if ot.othersAtFirstFailure < 0 {
			ot.othersAtFirstFailure = ot.others
		}
		ot.heldFailures++
		return http.StatusInternalServerError
	case i == 3:
		ot.othersAtRelease = ot.others
	case i%7 == 3 && !ot.failed[i]:
		ot.failed[i] = true
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

// end records the answer given to event i of key.
func (ot *orderedTarget) end(key string, i, status int) {
	ot.mu.Lock()
	defer ot.mu.Unlock()
	ot.inflight[key] = false
	if status != http.StatusOK {
		return
	}
	ot.got[key] = append(ot.got[key], i)
	if key != orderedKey(0) {
		ot.others++
	}
}

// incomplete says which keys still miss events, or "" once none does.
func (ot *orderedTarget) incomplete() error {
	ot.mu.Lock()
	defer ot.mu.Unlock()
	var short []string
	for k := range ot.keys {
		key := orderedKey(k)
		if n := len(ot.got[key]); n < ot.perKey {
			short = append(short, fmt.Sprintf("%s %d/%d", key, n, ot.perKey))
		}
	}
	if len(short) == 0 {
		return nil
	}
	return fmt.Errorf("events taken per key: %s (k0's event 3 failed %d times; the other keys had %d of %d events delivered)",
		strings.Join(short, ", "), ot.heldFailures, ot.others, (ot.keys-1)*ot.perKey)
}
