package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// An openLoop hands out the operations of an open loop at rate operations
// per second: operation i is due at begin + i/rate, and the last one is
// the last due before end.
//
// The latencies of an open loop count from these due times, so the load
// generator's own lateness in starting an operation is charged to the
// contender. Each worker therefore takes its next operation as soon as it
// is free (take) and sleeps until that one is due on an alarm of its own,
// then sends it: no other goroutine stands between a due time and its
// send, as a pacer handing due times to the workers did (on a 2-core VM,
// waking a worker from the pacer's thread took 0.12–0.15 ms at the
// median). An operation whose worker was busy past its due time goes out
// late, and is charged for it.
type openLoop struct {
	begin, end time.Time
	rate       int
	taken      atomic.Int64 // operations handed out
}

// take returns when the next operation is due, and false once the window
// has no more.
func (l *openLoop) take() (time.Time, bool) {
	i := l.taken.Add(1) - 1
	due := l.begin.Add(time.Duration(i) * time.Second / time.Duration(l.rate))
	return due, due.Before(l.end)
}

// An alarm wakes one goroutine at the time it asks, within microseconds:
// a timer of the kernel's (timerfd) that the runtime's network poller
// waits on, so the goroutine sleeps parked and its thread runs others
// meanwhile. A Go timer is late by up to a millisecond when the process is
// otherwise idle (the runtime then waits in epoll, whose timeout is in
// whole milliseconds); a thread sleeping precisely (nanosleep) holds its
// processor while it sleeps.
type alarm struct {
	timer *os.File
	fd    int // the timer's, for timerfd_settime; timer owns it
}

// newAlarm returns an alarm; Close it when done.
func newAlarm() (*alarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating a timer for the open loop: %w", err)
	}
	return &alarm{timer: os.NewFile(uintptr(fd), "timerfd"), fd: fd}, nil
}

// sleepUntil returns once t has come, or false as soon as ctx ends (or the
// timer fails, which it should not).
func (a *alarm) sleepUntil(ctx context.Context, t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(wait.Nanoseconds())}
	if err := unix.TimerfdSettime(a.fd, 0, &spec, nil); err != nil {
		return false
	}
	stop := context.AfterFunc(ctx, func() { _ = a.timer.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var expirations [8]byte
	_, err := a.timer.Read(expirations[:])
	return err == nil && ctx.Err() == nil
}

func (a *alarm) Close() error { return a.timer.Close() }
