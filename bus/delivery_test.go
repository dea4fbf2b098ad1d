package bus_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

func fastRetries(r router.Route, attempts int) router.Route {
	r.Delivery = router.Delivery{
		MaxAttempts: attempts,
		Backoff:     router.Backoff{Initial: spec.Duration(5 * time.Millisecond), Max: spec.Duration(20 * time.Millisecond)},
	}
	return r
}

// A target that fails, times out or refuses gets the event again until it
// takes it.
func TestFailedDeliveriesAreRetriedUntilTheTargetTakesThem(t *testing.T) {
	var calls atomic.Int32
	hook := bustest.NewWebhook(t, func(n int) int {
		calls.Add(1)
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	base := bustest.Start(t, bus.Config{Routes: []router.Route{fastRetries(route("r", hook.URL, ""), 5)}}).URL
	resp, body := post(t, base+"/events", "", binaryHeaders(nil), `{}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	d := hook.Next(t)
	if d.Header.Get("Ce-Id") != "1" {
		t.Fatalf("delivered %v", d.Header)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("target called %d times, want 3 (two failures, then success)", n)
	}
}

// After max_attempts the bus stops calling the target; the event goes to
// the dead-letter channel instead of being retried forever.
func TestAttemptsStopAtMaxAttempts(t *testing.T) {
	calls := make(chan struct{}, 100)
	hook := bustest.NewWebhook(t, func(int) int {
		calls <- struct{}{}
		return http.StatusServiceUnavailable
	})
	base := bustest.Start(t, bus.Config{Routes: []router.Route{fastRetries(route("r", hook.URL, ""), 3)}}).URL
	post(t, base+"/events", "", binaryHeaders(nil), `{}`)
	for i := range 3 {
		select {
		case <-calls:
		case <-time.After(5 * time.Second):
			t.Fatalf("attempt %d never came", i+1)
		}
	}
	// One more attempt would come within a few backoffs (≤20ms each).
	select {
	case <-calls:
		t.Fatal("a 4th attempt was made; max_attempts is 3")
	case <-time.After(300 * time.Millisecond):
	}
}

// An attempt at a target that never answers ends at the route's timeout
// and is retried; the connection it hung on is not reused.
func TestAnAttemptAtAHungTargetTimesOutAndIsRetried(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	hook := newHook(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select { // hang: answer nothing until the bus gives up
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the hook's server closes
	r := fastRetries(route("r", hook, ""), 3)
	r.Target.HTTP.Timeout = spec.Duration(200 * time.Millisecond)
	base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL
	bustest.Emit(t, base, "hung", nil)
	testkit.Eventually(t, 10*time.Second, "the event delivered on a second attempt", func() bool { return stats(t, base, "r").Delivered == 1 })
	if st := stats(t, base, "r"); st.Retried != 1 || calls.Load() != 2 {
		t.Errorf("target called %d times, %d retries; want 2 calls and 1 retry (the first attempt timed out)", calls.Load(), st.Retried)
	}
}
