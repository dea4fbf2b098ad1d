package bus_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// sseMessage is one Server-Sent Event.
type sseMessage struct{ kind, data string }

// openTail starts GET /v1/buses/{bus}/tail and returns the answer's status
// and, on 200, a channel of its messages; the stream ends with the test.
func openTail(t *testing.T, base, busName, token string) (int, <-chan sseMessage) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/buses/"+busName+"/tail", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q; want text/event-stream", ct)
	}
	out := make(chan sseMessage, 16)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				m.kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				m.data += strings.TrimPrefix(line, "data: ")
			case line == "" && m.kind != "":
				select {
				case out <- m:
				case <-ctx.Done():
					return
				}
				m = sseMessage{}
			}
		}
	}()
	return resp.StatusCode, out
}

func next(t *testing.T, msgs <-chan sseMessage) sseMessage {
	t.Helper()
	select {
	case m, ok := <-msgs:
		if !ok {
			t.Fatal("the tail ended early")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message from the tail within 10s")
	}
	return sseMessage{}
}

func TestTailStreamsTheEventsIngressStoresWithTheirRoutes(t *testing.T) {
	hook := bustest.NewWebhook(t, nil)
	base := bustest.Start(t, bus.Config{Routes: []router.Route{route("orders", hook.URL, `{"type":["order.created"]}`)}}).URL
	status, msgs := openTail(t, base, router.DefaultBus, "")
	if status != http.StatusOK {
		t.Fatalf("tail: %d; want 200", status)
	}
	if m := next(t, msgs); m.kind != "ready" {
		t.Fatalf("first message %+v; want ready", m)
	}
	bustest.Emit(t, base, "t-1", map[string]string{"ce-type": "order.created"})
	bustest.Emit(t, base, "t-2", map[string]string{"ce-type": "other"})
	for _, want := range []struct {
		id     string
		routes string
	}{{"t-1", `["orders"]`}, {"t-2", `[]`}} {
		m := next(t, msgs)
		var got struct {
			Event  event.Event     `json:"event"`
			Routes json.RawMessage `json:"routes"`
		}
		if err := json.Unmarshal([]byte(m.data), &got); m.kind != "event" || err != nil {
			t.Fatalf("message %+v (%v); want an event", m, err)
		}
		if got.Event.ID() != want.id || string(got.Routes) != want.routes || got.Event.Source() != "/src" {
			t.Errorf("tailed %s %s routes %s; want %s from /src, routes %s", got.Event.ID(), got.Event.Source(), got.Routes, want.id, want.routes)
		}
	}
}

func TestTailNeedsTheReadRightAndAnExistingBus(t *testing.T) {
	s := startSecuredBus(t)
	if status, _ := openTail(t, s.base, "shop", s.keys["shop-web"]); status != http.StatusForbidden {
		t.Errorf("tail by a key that may only emit: %d; want 403", status)
	}
	if status, _ := openTail(t, s.base, "shop", ""); status != http.StatusUnauthorized {
		t.Errorf("tail without credentials: %d; want 401", status)
	}
	if status, _ := openTail(t, s.base, "no-such-bus", s.keys["ops"]); status != http.StatusNotFound {
		t.Errorf("tail of a bus that does not exist: %d; want 404", status)
	}
	if status, _ := openTail(t, s.base, "shop", s.keys["support"]); status != http.StatusOK {
		t.Errorf("tail by a key with read on shop: %d; want 200", status)
	}
}

func TestTailsAreLimitedAndEndWithTheirContext(t *testing.T) {
	srv := bustest.Start(t, bus.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	var tails []*bus.Tail
	for range bus.MaxTails {
		tl, err := srv.Bus.Tail(ctx, router.DefaultBus)
		if err != nil {
			t.Fatalf("tail %d of %d: %v", len(tails)+1, bus.MaxTails, err)
		}
		tails = append(tails, tl)
	}
	if status, _ := openTail(t, srv.URL, router.DefaultBus, ""); status != http.StatusTooManyRequests {
		t.Errorf("tail %d: %d; want 429, as %d run already", bus.MaxTails+1, status, bus.MaxTails)
	}
	cancel()
	for _, tl := range tails {
		select {
		case _, open := <-tl.Events():
			if open {
				t.Fatal("a tail whose context ended delivered an event")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a tail did not end within 10s of its context")
		}
	}
	status, _ := openTail(t, srv.URL, router.DefaultBus, "")
	if status != http.StatusOK {
		t.Errorf("a tail after the others ended: %d; want 200", status)
	}
}

// A reader that does not keep up never slows ingress: the tail drops what
// does not fit its buffer, and counts it.
func TestATailThatFallsBehindDropsAndCountsInsteadOfBlockingIngress(t *testing.T) {
	srv := bustest.Start(t, bus.Config{})
	tl, err := srv.Bus.Tail(t.Context(), router.DefaultBus)
	if err != nil {
		t.Fatal(err)
	}
	const extra = 5
	for i := range bus.TailBuffer + extra {
		e := event.New()
		e.SetID(fmt.Sprint(i))
		e.SetSource("/src")
		e.SetType("t")
		if _, err := srv.Bus.Ingest(context.Background(), router.DefaultBus, []*event.Event{&e}); err != nil {
			t.Fatal(err)
		}
	}
	if n := tl.Dropped(); n != extra {
		t.Errorf("dropped %d; want %d, the events past the buffer of %d", n, extra, bus.TailBuffer)
	}
	if first := <-tl.Events(); first.Event.ID() != "0" {
		t.Errorf("first tailed event %s; want 0, the oldest kept", first.Event.ID())
	}
}

// Ingress reads an event's data out of the request's body without a copy;
// a tail holds its events past the request, so it keeps a copy of its
// own, not the request's bytes (nor all of a large batch's body).
func TestATailedEventKeepsNoneOfTheRequestsBytes(t *testing.T) {
	srv := bustest.Start(t, bus.Config{})
	tl, err := srv.Bus.Tail(t.Context(), router.DefaultBus)
	if err != nil {
		t.Fatal(err)
	}
	request := []byte(`{"order":1}`)
	e := event.New()
	e.SetID("1")
	e.SetSource("/src")
	e.SetType("t")
	e.DataEncoded = request
	if _, err := srv.Bus.Ingest(context.Background(), router.DefaultBus, []*event.Event{&e}); err != nil {
		t.Fatal(err)
	}
	clear(request) // the request is over; its buffer is the server's again
	if got := string((<-tl.Events()).Event.Data()); got != `{"order":1}` {
		t.Errorf("tailed data %q after the request's bytes were reused; want the event's own copy", got)
	}
}

// An open tail must not hold the bus's shutdown until its timeout.
func TestAnOpenTailEndsWhenTheBusShutsDown(t *testing.T) {
	srv := bustest.Start(t, bus.Config{ShutdownTimeout: spec.Duration(20 * time.Second)})
	status, msgs := openTail(t, srv.URL, router.DefaultBus, "")
	if status != http.StatusOK {
		t.Fatalf("tail: %d", status)
	}
	next(t, msgs) // ready
	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatalf("shutdown with a tail open: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("shutdown took %v with a tail open; want the tail ended at once, not at the 20s timeout", took)
	}
	select {
	case _, open := <-msgs:
		if open {
			t.Error("the tail sent a message after shutdown; want the stream ended")
		}
	case <-time.After(10 * time.Second):
		t.Error("the tail's stream did not end with the bus")
	}
}
