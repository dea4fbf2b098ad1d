package delivery

import (
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
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
