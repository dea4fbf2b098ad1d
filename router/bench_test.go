package router

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/router/routertest"
)

// Benchmarks, one goroutine each (run with -cpu 1 for "one core"):
//
//	go test -run '^$' -bench . -benchmem -cpu 1 ./router
//
// "matched" benchmarks reuse one Event, whose data is decoded on the first
// Match: they measure matching alone. "ingress" benchmarks build the Event
// from an SDK event each time, so they include decoding the JSON data, as
// the bus pays per event.

// exactRules are n routes, each on type, source (prefix) and one data field.
func exactRules(n int) map[string]Rule {
	rules := make(map[string]Rule, n)
	for i := range n {
		rules[fmt.Sprintf("route-%05d", i)] = Rule{Match: json.RawMessage(fmt.Sprintf(
			`{"type": ["com.example.order.v%d"], "source": [{"prefix": "web/shop-%d/"}], "data": {"region": ["region-%d"]}}`,
			i, i%100, i%20))}
	}
	return rules
}

// mixedRules are n routes that cycle through every operator.
func mixedRules(n int) map[string]Rule {
	templates := []string{
		`{"type": ["com.example.order.v%d"]}`,
		`{"source": [{"prefix": "web/shop-%d/"}]}`,
		`{"subject": [{"suffix": "/item-%d"}]}`,
		`{"type": [{"equals-ignore-case": "COM.EXAMPLE.ORDER.V%d"}]}`,
		`{"data": {"customer": {"email": [{"wildcard": "*@example-%d.com"}]}}}`,
		`{"data": {"region": [{"anything-but": ["region-%d", "region-x"]}]}}`,
		`{"data": {"total": [{"numeric": [">", %d, "<=", 1000]}]}}`,
		`{"data": {"ip": [{"cidr": "10.%d.0.0/16"}]}}`,
		`{"data": {"coupon": [{"exists": false}]}, "type": ["com.example.order.v%d"]}`,
		`{"$or": [{"type": ["com.example.order.v%d"]}, {"data": {"items": {"sku": ["sku-1"]}}}]}`,
		`{"type": [{"prefix": {"equals-ignore-case": "COM.EXAMPLE.ORDER.V%d"}}]}`,
	}
	rules := make(map[string]Rule, n)
	for i := range n {
		rules[fmt.Sprintf("route-%05d", i)] = Rule{Match: json.RawMessage(fmt.Sprintf(templates[i%len(templates)], i%250))}
	}
	return rules
}

func benchEvent() *event.Event {
	ce := event.New()
	ce.SetID("b4f3c8e0")
	ce.SetType("com.example.order.v7")
	ce.SetSource("web/shop-7/checkout")
	ce.SetSubject("orders/42/item-7")
	_ = ce.SetData(event.ApplicationJSON, map[string]any{
		"region":   "region-7",
		"total":    99.5,
		"ip":       "10.7.3.4",
		"customer": map[string]any{"email": "ada@example-7.com", "name": "Ada"},
		"items":    []any{map[string]any{"sku": "sku-9", "qty": 1}, map[string]any{"sku": "sku-3", "qty": 2}},
	})
	return &ce
}

var benchSizes = []int{10, 1000, 10000}

func BenchmarkMatch(b *testing.B) {
	for _, set := range []struct {
		name  string
		rules func(int) map[string]Rule
	}{{"exact", exactRules}, {"mixed", mixedRules}} {
		for _, n := range benchSizes {
			m, err := NewMatcher(set.rules(n), Limits{})
			if err != nil {
				b.Fatal(err)
			}
			ce := benchEvent()
			b.Run(fmt.Sprintf("%s/routes=%d/matched", set.name, n), func(b *testing.B) {
				e := NewEvent(ce)
				if len(m.Match(e)) == 0 {
					b.Fatal("the benchmark event must match some route")
				}
				b.ReportAllocs()
				for b.Loop() {
					m.Match(e)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
			b.Run(fmt.Sprintf("%s/routes=%d/ingress", set.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					m.Match(NewEvent(ce))
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkReference is the naive peer: the reference evaluator checks each
// rule in turn against an event it has already decoded.
func BenchmarkReference(b *testing.B) {
	doc, err := json.Marshal(benchEvent())
	if err != nil {
		b.Fatal(err)
	}
	e, err := routertest.DecodeEvent(doc)
	if err != nil {
		b.Fatal(err)
	}
	for _, set := range []struct {
		name  string
		rules func(int) map[string]Rule
	}{{"exact", exactRules}, {"mixed", mixedRules}} {
		for _, n := range benchSizes {
			refRules := map[string]routertest.Rule{}
			for name, r := range set.rules(n) {
				refRules[name] = routertest.Rule{Match: r.Match}
			}
			ref, err := routertest.NewEvaluator(refRules)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/routes=%d", set.name, n), func(b *testing.B) {
				for b.Loop() {
					ref.Match(e)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkCompile reports the time to compile a bus's routes and the heap
// the compiled Matcher keeps.
func BenchmarkCompile(b *testing.B) {
	for _, set := range []struct {
		name  string
		rules func(int) map[string]Rule
	}{{"exact", exactRules}, {"mixed", mixedRules}} {
		rules := set.rules(10000)
		b.Run(set.name+"/routes=10000", func(b *testing.B) {
			var m *Matcher
			for b.Loop() {
				var err error
				if m, err = NewMatcher(rules, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(retainedHeap(func() any { m, _ := NewMatcher(rules, Limits{}); return m }))/(1<<20), "heap-MB")
			runtime.KeepAlive(m)
		})
	}
}

// retainedHeap measures the live heap that build's result keeps reachable.
func retainedHeap(build func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}
