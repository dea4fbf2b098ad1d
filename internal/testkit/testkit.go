// Package testkit holds the one way this project's tests wait: poll a
// condition until it holds, and fail saying what was awaited and for how
// long. Tests never sleep to synchronise; they wait with Eventually (a
// yes/no condition), EventuallyNoError (a check that says what is still
// wrong) or Poll (a wait whose timeout is not a failure, at an interval of
// the caller's choosing).
package testkit

import (
	"testing"
	"time"
)

// Interval is how long the helpers wait between two checks.
const Interval = 10 * time.Millisecond

// Eventually calls cond every Interval until it returns true, and fails the
// test when timeout passes first: "timed out after <timeout> waiting for <what>".
// cond runs on the calling goroutine, so it may call t.Fatal itself.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, Interval, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// EventuallyNoError calls check every Interval until it returns nil, and
// fails the test with check's last error when timeout passes first.
func EventuallyNoError(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	var last error
	if !Poll(timeout, Interval, func() bool { last = check(); return last == nil }) {
		t.Fatalf("after %v: %v", timeout, last)
	}
}

// Poll calls cond every interval until it returns true or timeout passes,
// and reports whether cond held; a timeout is the caller's to judge. cond is
// called at least once, and once more at the deadline. A cond that costs
// the system under test (listing thousands of dead letters) takes a longer
// interval than Interval.
func Poll(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		<-tick.C
	}
}
