package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/router/routertest"
)

// The match scenario: decide which of 1,000 routes one event goes to. The
// routes are exact and prefix patterns on type, source and one data field,
// the common case; one operation builds the matcher's view of an event
// (decoding its JSON data) and matches it. eventbus uses its compiled
// router.Matcher; the peer is the naive way, routertest's reference
// evaluator checking the rules one by one on the decoded event.
//
// Both contenders run inside this process, since matching is a function
// call and not a service: PID is the harness itself, so CPU µs/event also
// counts the load loop, equally for both. CPU profiles are not written.
func init() {
	register(Scenario{
		Name:    "match",
		About:   "match one CloudEvent (~150-byte JSON data) against 1,000 exact/prefix routes, in process",
		Workers: 2,
		Contenders: []Contender{
			{Name: "eventbus", Start: startMatcher},
			{Name: "one-by-one", Start: startReference},
		},
	})
}

const matchRoutes = 1000

func matchRules() map[string]router.Rule {
	rules := make(map[string]router.Rule, matchRoutes)
	for i := range matchRoutes {
		rules[fmt.Sprintf("route-%04d", i)] = router.Rule{Match: json.RawMessage(fmt.Sprintf(
			`{"type": ["com.example.order.v%d"], "source": [{"prefix": "web/shop-%d/"}], "data": {"region": ["region-%d"]}}`,
			i, i%100, i%20))}
	}
	return rules
}

// matchEvent is the event every operation matches; it selects one route.
func matchEvent() *event.Event {
	ce := event.New()
	ce.SetID("b4f3c8e0")
	ce.SetType("com.example.order.v7")
	ce.SetSource("web/shop-7/checkout")
	_ = ce.SetData(event.ApplicationJSON, map[string]any{
		"region": "region-7", "total": 99.5,
		"customer": map[string]any{"email": "ada@example.com"},
		"items":    []any{map[string]any{"sku": "sku-9", "qty": 1}},
	})
	return &ce
}

func startMatcher(context.Context, StartOptions) (*Instance, error) {
	m, err := router.NewMatcher(matchRules(), router.Limits{})
	if err != nil {
		return nil, err
	}
	ce := matchEvent()
	if got := m.Match(router.NewEvent(ce)); len(got) != 1 {
		return nil, fmt.Errorf("match scenario: the bench event selects %v, want one route", got)
	}
	return &Instance{
		PID: os.Getpid(),
		Op: func(context.Context) error {
			m.Match(router.NewEvent(ce))
			return nil
		},
		Stop: func() error { return nil },
	}, nil
}

func startReference(context.Context, StartOptions) (*Instance, error) {
	rules := map[string]routertest.Rule{}
	for name, r := range matchRules() {
		rules[name] = routertest.Rule{Match: r.Match}
	}
	ref, err := routertest.NewEvaluator(rules)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(matchEvent())
	if err != nil {
		return nil, err
	}
	return &Instance{
		PID: os.Getpid(),
		Op: func(context.Context) error {
			e, err := routertest.DecodeEvent(doc)
			if err != nil {
				return err
			}
			if len(ref.Match(e)) != 1 {
				return fmt.Errorf("match scenario: the reference selected %v", ref.Match(e))
			}
			return nil
		},
		Stop: func() error { return nil },
	}, nil
}
