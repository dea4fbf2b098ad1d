package transform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/transform"
)

// BenchmarkMatchThenTransform prices what a route with a transform adds to
// an event's path: matching it against 1,000 routes, as ingress does, then
// the route's program, as delivery does ("match" alone is the floor).
func BenchmarkMatchThenTransform(b *testing.B) {
	rules := make(map[string]router.Rule, 1000)
	for i := range 1000 {
		rules[fmt.Sprintf("route-%04d", i)] = router.Rule{Match: json.RawMessage(fmt.Sprintf(`{"type": ["order.v%d"], "data": {"region": ["r-%d"]}}`, i, i%20))}
	}
	m, err := router.NewMatcher(rules, router.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	e := event.New()
	e.SetID("e-1")
	e.SetSource("/shop")
	e.SetType("order.v7")
	if err := e.SetData(event.ApplicationJSON, []byte(`{"region":"r-7","customer":{"name":"Ada","id":7},"items":[{"sku":"a-1","qty":2},{"sku":"b-2","qty":1}],"total":30}`)); err != nil {
		b.Fatal(err)
	}
	e.DataBase64 = false // JSON data, as ingress decodes it ([]byte alone reads as binary)
	p, err := transform.Compile(`.data = {buyer: .data.customer.name, skus: [.data.items[].sku], text: "Order of \(.data.total)"}`)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("match", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(m.Match(router.NewEvent(&e))) != 1 {
				b.Fatal("the event must match one route")
			}
		}
	})
	b.Run("match+transform", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(m.Match(router.NewEvent(&e))) != 1 {
				b.Fatal("the event must match one route")
			}
			if _, err := p.Apply(ctx, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
