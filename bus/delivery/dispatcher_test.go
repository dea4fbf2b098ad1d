package delivery

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
	"github.com/eventbus-go/eventbus/verdict"
)

// The backoff grows exponentially from initial and never exceeds max.
func TestBackoffStaysWithinItsBounds(t *testing.T) {
	b := router.Backoff{Initial: spec.Duration(100 * time.Millisecond), Max: spec.Duration(time.Second)}
	for attempt := 1; attempt <= 12; attempt++ {
		for range 200 {
			d := backoff(b, attempt)
			ceiling := min(100*time.Millisecond<<(attempt-1), time.Second)
			if d < 100*time.Millisecond || d > ceiling {
				t.Fatalf("attempt %d: backoff %v outside [100ms, %v]", attempt, d, ceiling)
			}
		}
	}
}

// Steps wrap the attempt with the first step outermost, so the dead-letter
// step sees what the retry step made of the attempts.
func TestChainRunsTheFirstStepOutermost(t *testing.T) {
	var order []string
	mark := func(name string) step {
		return func(next deliverFunc) deliverFunc {
			return func(ctx context.Context, a *attempt) Outcome {
				order = append(order, name)
				return next(ctx, a)
			}
		}
	}
	deliver := chain(func(context.Context, *attempt) Outcome {
		order = append(order, "attempt")
		return Outcome{Verdict: verdict.Ack}
	}, mark("dead letters"), mark("retry"))
	deliver(context.Background(), &attempt{})
	if want := []string{"dead letters", "retry", "attempt"}; !slices.Equal(order, want) {
		t.Fatalf("steps ran in the order %v; want %v", order, want)
	}
}
