package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/go-zeromq/zmq4"

	"github.com/eventbus-go/eventbus/adapters/zeromq"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/internal/testnet"
	"github.com/eventbus-go/eventbus/sdk"
)

// A tick published on a ZeroMQ feed reaches the HTTP handler through the
// bus's source, and the handler's priced tick comes back out of the bus's
// PUB socket to a ZeroMQ subscriber (zmq4's own SUB socket), with the
// feed's topic; a tick on a topic the source did not subscribe to never
// comes out.
func TestATickGoesFromTheFeedThroughTheHandlerBackOutOnZeroMQ(t *testing.T) {
	feed, err := zeromq.NewPublisher(zeromq.PublisherOptions{Addr: "127.0.0.1:0", HWM: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = feed.Close() })
	out := testnet.FreeAddr(t)

	hook := httptest.NewServer(nil)
	t.Cleanup(hook.Close)
	cfg, err := bus.LoadConfig("../bus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sources[0].ZeroMQ.Endpoints = []string{"zmq+tcp://" + feed.Addr()}
	for i, r := range cfg.Routes {
		switch r.Name {
		case "ticks":
			cfg.Routes[i].Target.HTTP.URL = hook.URL + "/tick"
		case "ticks-out":
			cfg.Routes[i].Target.Topic.URL = "zmq+tcp://" + out
		}
	}
	srv := bustest.Start(t, cfg)
	client, err := sdk.New(srv.URL, sdk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hook.Config.Handler = handler(client)

	// The feed's slow joiner: wait for the bus's subscription.
	testkit.Eventually(t, 20*time.Second, "the bus subscribed to the feed", func() bool {
		s := feed.Subscriptions()
		return len(s) == 1 && s[0] == "NASDAQ."
	})
	sub := zmq4.NewSub(context.Background())
	t.Cleanup(func() { _ = sub.Close() })
	if err := sub.Dial("tcp://" + out); err != nil {
		t.Fatal(err)
	}
	if err := sub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		t.Fatal(err)
	}
	got := make(chan zmq4.Msg, 1000)
	go func() {
		for {
			m, err := sub.Recv()
			if err != nil {
				return
			}
			got <- m
		}
	}()
	// The output's slow joiner: publish until a priced tick comes out.
	var first zmq4.Msg
	testkit.Eventually(t, 30*time.Second, "a priced tick on the bus's PUB socket", func() bool {
		publish(t, feed, "NYSE.IBM", `{"symbol":"IBM","price":170.1}`)
		publish(t, feed, "NASDAQ.AAPL", `{"symbol":"AAPL","price":189.57}`)
		select {
		case first = <-got:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	check := func(m zmq4.Msg) {
		t.Helper()
		if len(m.Frames) != 2 || string(m.Frames[0]) != "NASDAQ.AAPL" {
			t.Fatalf("frames %q; want the topic NASDAQ.AAPL then the event", m.Frames)
		}
		var e event.Event
		if err := json.Unmarshal(m.Frames[1], &e); err != nil {
			t.Fatalf("second frame is not a structured CloudEvent: %v", err)
		}
		var p Priced
		if err := e.DataAs(&p); err != nil || e.Type() != "tick.priced" || p != (Priced{Symbol: "AAPL", Cents: 18957}) {
			t.Fatalf("got a %s event with %+v (%v); want tick.priced with AAPL at 18957 cents", e.Type(), p, err)
		}
	}
	check(first)
	// Drain what the warm-up published: only NASDAQ ticks come out.
	testkit.EventuallyNoError(t, 20*time.Second, func() error {
		st, err := client.RouteStats(t.Context(), "ticks-out")
		if err != nil || st.Depth != 0 || st.Inflight != 0 {
			return err
		}
		return nil
	})
	for {
		select {
		case m := <-got:
			check(m)
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

func publish(t *testing.T, p *zeromq.Publisher, topic, body string) {
	t.Helper()
	if _, err := p.Publish(t.Context(), topic, []byte(body)); err != nil {
		t.Fatal(err)
	}
}
