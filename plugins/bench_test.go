package plugins

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	sdkplugin "github.com/eventbus-go/eventbus/sdk/plugin"
)

// BenchmarkDeliver measures the host and the plugin SDK together, both in
// this process (the bench program's plugin scenario runs them apart).
func BenchmarkDeliver(b *testing.B) {
	h, _ := inProcessHost(b, Config{}, sdkplugin.HandlerFunc(func(context.Context, event.Event) (sdkplugin.Result, error) {
		return sdkplugin.Ack(), nil
	}))
	e := newEvent("b4f3c8e0", "com.example.order.v7", map[string]any{"region": "region-7", "total": 99.5, "customer": map[string]any{"email": "ada@example.com"}})
	var errs atomic.Int64
	b.SetParallelism(128)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Deliver(context.Background(), "p", e); err != nil {
				errs.Add(1)
			}
		}
	})
	if errs.Load() > 0 {
		b.Fatalf("%d errors", errs.Load())
	}
}
