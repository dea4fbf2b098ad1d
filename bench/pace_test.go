package main

import (
	"context"
	"testing"
	"time"
)

func TestOpenLoopHandsOutEachDueTimeOfTheWindowInOrder(t *testing.T) {
	const rate = 1000
	begin := time.Now()
	loop := &openLoop{begin: begin, end: begin.Add(50 * time.Millisecond), rate: rate}
	var got []time.Time
	for {
		due, ok := loop.take()
		if !ok {
			break
		}
		got = append(got, due)
	}
	if len(got) != 50 {
		t.Fatalf("%d operations due in 50 ms at %d/s; want 50", len(got), rate)
	}
	for i, due := range got {
		if want := begin.Add(time.Duration(i) * time.Millisecond); !due.Equal(want) {
			t.Errorf("operation %d due at %v after the start; want %v", i, due.Sub(begin), want.Sub(begin))
		}
	}
	if _, ok := loop.take(); ok {
		t.Error("the window handed out an operation after it said it had no more")
	}
}

func TestAlarmWakesItsGoroutineOnceTheTimeHasCome(t *testing.T) {
	a := testAlarm(t)
	for i := range 3 { // one alarm sleeps again and again
		due := time.Now().Add(5 * time.Millisecond)
		if !a.sleepUntil(context.Background(), due) {
			t.Fatalf("sleep %d ended without its time having come", i)
		}
		if early := time.Until(due); early > 0 {
			t.Fatalf("sleep %d ended %v before its time", i, early)
		}
	}
	if !a.sleepUntil(context.Background(), time.Now().Add(-time.Second)) {
		t.Error("a sleep until a time past did not return at once")
	}
}

func TestAlarmStopsWithItsContext(t *testing.T) {
	a := testAlarm(t)
	ctx, cancel := context.WithCancel(context.Background())
	woke := make(chan bool)
	go func() { woke <- a.sleepUntil(ctx, time.Now().Add(time.Hour)) }()
	cancel()
	select {
	case ok := <-woke:
		if ok {
			t.Error("a sleep of an hour said its time had come when its context ended")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a sleep of an hour went on after its context ended")
	}
}

// testAlarm returns an alarm that is closed when the test ends.
func testAlarm(t *testing.T) *alarm {
	t.Helper()
	a, err := newAlarm()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}
