package main

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// pace sends the due times of an open loop at rate operations per second
// to dues: operation i is due at begin + i/rate, and the last one sent is
// the last due before end. It closes dues when done or when ctx ends.
//
// The latencies of an open loop count from these due times, so the load
// generator's own lateness in starting an operation would be charged to
// the contender. A Go timer is late by up to a millisecond when the
// process is otherwise idle (the runtime then waits in epoll, whose
// timeout is in whole milliseconds): at 4,000 operations a second that
// was half a millisecond on every one, for any contender. pace therefore
// runs on a thread of its own and sleeps the last stretch before each due
// time precisely (sleepPrecisely). A send blocks while every worker is
// busy; the operations due meanwhile go out late, and are charged for it.
func pace(ctx context.Context, begin, end time.Time, rate int, dues chan<- time.Time) {
	defer close(dues)
	// The thread is this goroutine's alone until pace returns, and then
	// as it was. It must not end with the goroutine: a child process the
	// bench started from it would get its parent-death signal.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer sharpenTimerSlack()()
	for i := int64(0); ; i++ {
		due := begin.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if !due.Before(end) {
			return
		}
		if !sleepUntil(ctx, due) {
			return
		}
		select {
		case dues <- due:
		case <-ctx.Done():
			return
		}
	}
}

// coarseMargin is how much earlier than a due time a Go timer is asked to
// fire: more than its lateness, so that the rest is slept precisely.
const coarseMargin = 2 * time.Millisecond

// sleepUntil returns once t has come, or false as soon as ctx ends; it
// waits on a timer (which ctx can interrupt) until shortly before t and
// sleeps the rest precisely.
func sleepUntil(ctx context.Context, t time.Time) bool {
	if wait := time.Until(t) - coarseMargin; wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return false
		}
	}
	for {
		wait := time.Until(t)
		if wait <= 0 {
			return ctx.Err() == nil
		}
		sleepPrecisely(wait)
	}
}

// sharpenTimerSlack asks Linux to wake the calling thread from a sleep on
// time, not up to 50 µs late (its default timer slack), and returns what
// puts the slack back.
func sharpenTimerSlack() (restore func()) {
	was, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return func() {}
	}
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0) // without it the pacer is only later
	return func() { _ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(was), 0, 0, 0) }
}

// sleepPrecisely blocks the calling thread for d in a nanosleep system
// call, which wakes within microseconds of d, where a runtime timer may
// take a millisecond more. An interrupted sleep returns early; sleepUntil
// sleeps again.
func sleepPrecisely(d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	_ = unix.Nanosleep(&ts, nil)
}
