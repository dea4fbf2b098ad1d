package testkit_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/internal/testkit"
)

// recorder is a testing.TB that records a Fatalf instead of ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	r := &recorder{TB: t}
	calls := 0
	testkit.Eventually(r, 10*time.Second, "the third check", func() bool { calls++; return calls >= 3 })
	if r.failed != "" || calls != 3 {
		t.Fatalf("failed %q after %d checks; want success on the third check", r.failed, calls)
	}
}

func TestEventuallySaysWhatItAwaitedAndForHowLong(t *testing.T) {
	r := &recorder{TB: t}
	testkit.Eventually(r, 30*time.Millisecond, "the order to ship", func() bool { return false })
	if want := "timed out after 30ms waiting for the order to ship"; r.failed != want {
		t.Fatalf("failure %q; want %q, so a reader knows what never happened", r.failed, want)
	}
}

func TestEventuallyNoErrorReportsTheLastError(t *testing.T) {
	r := &recorder{TB: t}
	n := 0
	testkit.EventuallyNoError(r, 30*time.Millisecond, func() error { n++; return fmt.Errorf("%d of 5 delivered", n) })
	if want := fmt.Sprintf("after 30ms: %d of 5 delivered", n); r.failed != want || n < 2 {
		t.Fatalf("failure %q after %d checks; want %q: the last state explains the timeout", r.failed, n, want)
	}
}

func TestEventuallyNoErrorReturnsOnNil(t *testing.T) {
	r := &recorder{TB: t}
	n := 0
	testkit.EventuallyNoError(r, 10*time.Second, func() error {
		if n++; n < 2 {
			return errors.New("not yet")
		}
		return nil
	})
	if r.failed != "" || n != 2 {
		t.Fatalf("failed %q after %d checks; want success on the second", r.failed, n)
	}
}

func TestPollChecksAgainAtTheDeadline(t *testing.T) {
	start := time.Now()
	n := 0
	if testkit.Poll(25*time.Millisecond, testkit.Interval, func() bool { n++; return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
	if took := time.Since(start); took < 25*time.Millisecond || n < 2 {
		t.Fatalf("Poll gave up after %v and %d checks; want at least the timeout and a last check", took, n)
	}
}
