package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/metrics"
)

type noRoutes struct{}

func (noRoutes) Samples(context.Context) []bus.RouteSample { return nil }
func (noRoutes) Pings(context.Context) map[string]error    { return nil }
func (noRoutes) SourceSamples() []bus.SourceSample         { return nil }

// BenchmarkCountingOneRequest is what the ingress adds to each request for
// its metrics: a clock read, one accepted count and one observed duration.
// Compare with BenchmarkIngress in ./bench, the whole request.
func BenchmarkCountingOneRequest(b *testing.B) {
	m := metrics.New(noRoutes{}, metrics.Options{})
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		m.Ingress.Accepted("default", 1)
		m.Ingress.Answered(start)
	}
}
