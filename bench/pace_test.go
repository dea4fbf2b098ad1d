package main

import (
	"context"
	"testing"
	"time"
)

func TestPaceHandsOutEachDueTimeOfTheWindowInOrder(t *testing.T) {
	const rate = 1000
	begin := time.Now()
	end := begin.Add(50 * time.Millisecond)
	dues := make(chan time.Time)
	go pace(context.Background(), begin, end, rate, dues)
	var got []time.Time
	for due := range dues {
		if time.Now().Before(due) {
			t.Errorf("operation %d was handed out before it was due", len(got))
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
}

func TestPaceStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	begin := time.Now()
	dues := make(chan time.Time)
	go pace(ctx, begin, begin.Add(time.Hour), 1, dues)
	<-dues // the first is due at once
	cancel()
	if _, open := <-dues; open {
		t.Fatal("pace handed out an operation due in a second after its context ended")
	}
}
