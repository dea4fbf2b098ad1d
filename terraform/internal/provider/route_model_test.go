package provider

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/eventbus-go/eventbus/sdk"
)

func TestRouteSurvivesTheTripThroughTerraform(t *testing.T) {
	deadLetter := false
	routes := map[string]sdk.Route{
		"http target, every delivery field": {
			Name: "signup-mail", Bus: "default", Backend: "rabbit://127.0.0.1:5672/",
			Match:   json.RawMessage(`{"type":["user.signed_up"]}`),
			Filters: json.RawMessage(`[{"sql":"source LIKE 'web/%'"}]`),
			Target:  sdk.Target{HTTP: &sdk.HTTPTarget{URL: "http://127.0.0.1:9000/hook", Timeout: "10s", Headers: map[string]string{"Authorization": "Bearer s3cret"}}},
			Delivery: &sdk.Delivery{
				MaxAttempts: 8, MaxAge: "24h0m0s", Backoff: &sdk.Backoff{Initial: "200ms", Max: "1m0s"},
				DeadLetter: &deadLetter, ClientErrors: "retry", MaxInflight: 32, OrderingKey: "subject",
				Rate: "200/s", Delay: "10s", MaxDepth: 100, Overflow: "block", BlockTimeout: "5s",
			},
			Start:  "earliest",
			Paused: true,
		},
		"plugin target": {
			Name: "inventory", Bus: "orders", Backend: "mem://",
			Target: sdk.Target{Plugin: &sdk.PluginTarget{Name: "inventory"}},
		},
		"topic target": {
			Name: "logs", Bus: "default", Backend: "kafka://127.0.0.1:9092",
			Target: sdk.Target{Topic: &sdk.TopicTarget{URL: "kafka://127.0.0.1:9092", Name: "logs.stored"}},
		},
		"zeromq topic target": {
			Name: "ticker", Bus: "default", Backend: "mem://",
			Target: sdk.Target{Topic: &sdk.TopicTarget{URL: "zmq+tcp://0.0.0.0:5556", ZeroMQ: &sdk.ZeroMQTopic{HWM: 50, WhenFull: "drop", TopicFrame: "{source}/{type}"}}},
		},
	}
	for name, want := range routes {
		t.Run(name, func(t *testing.T) {
			m, diags := routeFromAPI(context.Background(), want)
			if diags.HasError() {
				t.Fatal(diags)
			}
			got, diags := m.toAPI(context.Background())
			if diags.HasError() {
				t.Fatal(diags)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after the trip through Terraform's model:\n got %+v\nwant %+v\nan apply would change what Terraform only read", got, want)
			}
		})
	}
}

func TestRouteWithoutDeadLetterFieldKeepsDeadLetters(t *testing.T) {
	m, diags := routeFromAPI(context.Background(), sdk.Route{Name: "r", Delivery: &sdk.Delivery{MaxAttempts: 10}})
	if diags.HasError() {
		t.Fatal(diags)
	}
	if !m.Delivery.DeadLetter.ValueBool() {
		t.Error("dead_letter = false for a route whose answer leaves it out; the bus's default is true")
	}
}

func TestBlocksLeftOutStayOutWhileTheBusHasItsDefaults(t *testing.T) {
	defaults := func() *sdk.Delivery {
		return &sdk.Delivery{MaxAttempts: 10, Backoff: &sdk.Backoff{Initial: "200ms", Max: "1m0s"}, ClientErrors: "dead-letter", MaxInflight: 16}
	}
	withoutDelivery := routeModel{}
	withDelivery := routeModel{Delivery: &deliveryModel{}}
	withBackoff := routeModel{Delivery: &deliveryModel{Backoff: &backoffModel{}}}
	cases := map[string]struct {
		prior                     routeModel
		delivery                  func(*sdk.Delivery)
		wantDelivery, wantBackoff bool
	}{
		"no delivery block, the bus's defaults: none in state, no diff": {
			prior: withoutDelivery, delivery: func(*sdk.Delivery) {},
		},
		"no delivery block, dead_letter sent as true: still the defaults": {
			prior: withoutDelivery, delivery: func(d *sdk.Delivery) { d.DeadLetter = new(true) },
		},
		"no delivery block, changed outside Terraform: kept, so the plan shows it": {
			prior: withoutDelivery, delivery: func(d *sdk.Delivery) { d.MaxAttempts = 5 },
			wantDelivery: true,
		},
		"no delivery block, backoff changed outside Terraform: kept": {
			prior: withoutDelivery, delivery: func(d *sdk.Delivery) { d.Backoff.Initial = "1s" },
			wantDelivery: true, wantBackoff: true,
		},
		"a delivery block without backoff, the bus's backoff: delivery only": {
			prior: withDelivery, delivery: func(*sdk.Delivery) {},
			wantDelivery: true,
		},
		"a backoff block: kept, even at the defaults": {
			prior: withBackoff, delivery: func(*sdk.Delivery) {},
			wantDelivery: true, wantBackoff: true,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := sdk.Route{Name: "r", Target: sdk.Target{HTTP: &sdk.HTTPTarget{URL: "http://127.0.0.1:9/hook", Timeout: "10s"}}, Delivery: defaults()}
			c.delivery(r.Delivery)
			m, diags := routeFromAPI(context.Background(), r)
			if diags.HasError() {
				t.Fatal(diags)
			}
			m.leaveOutDefaultBlocks(c.prior, r)
			gotDelivery := m.Delivery != nil
			gotBackoff := gotDelivery && m.Delivery.Backoff != nil
			if gotDelivery != c.wantDelivery || gotBackoff != c.wantBackoff {
				t.Errorf("delivery block %v, backoff block %v; want %v, %v", gotDelivery, gotBackoff, c.wantDelivery, c.wantBackoff)
			}
		})
	}
}
