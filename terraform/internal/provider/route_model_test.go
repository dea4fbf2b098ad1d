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
