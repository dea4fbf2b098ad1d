package plugin_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/sdk/plugin"
	"github.com/eventbus-go/eventbus/sdk/plugin/plugintest"
	"github.com/eventbus-go/eventbus/verdict"
)

func newEvent(id, typ string) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("test")
	e.SetType(typ)
	return e
}

var quiet = plugin.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

func TestHandlerRepliesAreValidEventsWithIDs(t *testing.T) {
	p := plugintest.New(t, plugin.HandlerFunc(func(_ context.Context, e event.Event) (plugin.Result, error) {
		r := event.New()
		r.SetSource("inventory")
		r.SetType("stock.reserved")
		_ = r.SetData(event.ApplicationJSON, map[string]string{"order": e.ID()})
		return plugin.Ack(r), nil
	}), quiet)
	res, err := p.Deliver(t.Context(), newEvent("o1", "order.created"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verdict.Ack || len(res.Replies) != 1 || res.Replies[0].ID() == "" || !strings.Contains(string(res.Replies[0].Data()), "o1") {
		t.Fatalf("result = %+v; want an ack with one reply that has an id and the order in its data", res)
	}
}

func TestHandlerPastItsDeadlineIsAnsweredRetry(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	p := plugintest.New(t, plugin.HandlerFunc(func(context.Context, event.Event) (plugin.Result, error) {
		<-release // ignores ctx, as a careless handler would
		return plugin.Ack(), nil
	}), quiet)
	p.Timeout = 100 * time.Millisecond
	start := time.Now()
	res, err := p.Deliver(t.Context(), newEvent("1", "slow"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verdict.Retry || !strings.Contains(res.Reason, "deadline") || time.Since(start) > time.Second {
		t.Fatalf("result = %+v after %s; want retry at the 100ms deadline", res, time.Since(start))
	}
}

func TestBatchHandlerGetsTheBatchAndAnswersEach(t *testing.T) {
	var sizes []int
	p := plugintest.NewBatch(t, plugin.BatchHandlerFunc(func(_ context.Context, events []event.Event) ([]plugin.Result, error) {
		sizes = append(sizes, len(events))
		out := make([]plugin.Result, len(events))
		for i, e := range events {
			if e.Type() == "bad" {
				out[i] = plugin.DeadLetter("bad row")
			}
		}
		return out, nil
	}), quiet)
	res, err := p.DeliverBatch(t.Context(), []event.Event{newEvent("1", "ok"), newEvent("2", "bad"), newEvent("3", "ok")})
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 1 || sizes[0] != 3 {
		t.Errorf("HandleBatch calls with %v events; want one call with 3", sizes)
	}
	if res[0].Verdict != verdict.Ack || res[1].Verdict != verdict.DeadLetter || res[2].Verdict != verdict.Ack {
		t.Errorf("results = %+v; want ack, dead-letter, ack in order", res)
	}
}

func TestBatchHandlerErrorRetriesEveryEvent(t *testing.T) {
	p := plugintest.NewBatch(t, plugin.BatchHandlerFunc(func(context.Context, []event.Event) ([]plugin.Result, error) {
		return nil, errors.New("database down")
	}), quiet)
	res, err := p.DeliverBatch(t.Context(), []event.Event{newEvent("1", "a"), newEvent("2", "b")})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Verdict != verdict.Retry || r.Reason != "database down" {
			t.Errorf("result %d = %+v; want retry with the error as reason", i, r)
		}
	}
}

func TestDescribeSaysWhatOptionsSay(t *testing.T) {
	p := plugintest.New(t, plugin.HandlerFunc(func(context.Context, event.Event) (plugin.Result, error) { return plugin.Ack(), nil }),
		plugin.Options{Name: "mailer", Version: "2.1.0", EventTypes: []string{"user.signed_up"}})
	name, version, types, err := p.Describe(t.Context())
	if err != nil || name != "mailer" || version != "2.1.0" || len(types) != 1 {
		t.Fatalf("Describe = %q %q %v %v", name, version, types, err)
	}
}

func TestLogHandlerWritesWhatTheHostReads(t *testing.T) {
	var b strings.Builder
	slog.New(plugin.NewLogHandler(&b, slog.LevelDebug)).Warn("smtp slow", "ms", 900)
	line := b.String()
	for _, want := range []string{`"@level":"warn"`, `"@message":"smtp slow"`, `"@timestamp":"`, `"ms":900`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %s lacks %s", line, want)
		}
	}
}
