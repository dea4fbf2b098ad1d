package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/memory"
	"github.com/eventbus-go/eventbus/bus/history"
	"github.com/eventbus-go/eventbus/router"
)

// roomy is a route with room for every event.
type roomy struct{}

func (roomy) TryAcquire() bool { return true }
func (roomy) Release()         {}

// A redrive whose send fails leaves the event where it was, and says so:
// a dead letter, never redriven.
func TestARedriveThatCannotSendLeavesTheEventADeadLetter(t *testing.T) {
	ctx := context.Background()
	reg := adapters.NewRegistry()
	reg.Register(memory.Scheme, memory.Open)
	t.Cleanup(func() { _ = reg.Close() })
	be, err := reg.Open(ctx, memory.Scheme+"://")
	if err != nil {
		t.Fatal(err)
	}
	r := router.Route{Name: "r", Bus: "b"}
	for _, name := range []string{r.Name, r.Name + router.DeadLetterSuffix} {
		if err := be.EnsureChannel(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	dlq, err := be.OpenChannel(ctx, r.Name+router.DeadLetterSuffix)
	if err != nil {
		t.Fatal(err)
	}
	e := event.New()
	e.SetID("1")
	e.SetSource("/s")
	e.SetType("t")
	msg, err := adapters.EncodeEvent(&e)
	if err != nil {
		t.Fatal(err)
	}
	if err := dlq.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	ch, err := be.OpenChannel(ctx, r.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Shutdown(ctx); err != nil { // its sends fail from now on
		t.Fatal(err)
	}
	hist := history.New(history.Options{})
	hist.Accepted(r.Bus, "/s", "1", []string{r.Name}, time.Now())
	hist.Attempted(r.Bus, "/s", "1", r.Name, history.Attempt{Verdict: "dead-letter"}, history.DeadLettered)

	n, err := Redrive(ctx, be, ch, roomy{}, r, nil, hist)
	if err == nil || n != 0 {
		t.Fatalf("Redrive = %d, %v; want 0 and the send's error", n, err)
	}
	got, _ := hist.Lookup(r.Bus, "/s", "1")
	if rr := got.Routes[0]; rr.State != history.DeadLettered || !rr.RedrivenAt.IsZero() {
		t.Errorf("history after a failed redrive: %+v; want dead_lettered with no redrive time", rr)
	}
	if depth, err := be.Depth(ctx, r.Name+router.DeadLetterSuffix); err != nil || depth != 1 {
		t.Errorf("dead letters after a failed redrive: %d, %v; want the one still there", depth, err)
	}
}
