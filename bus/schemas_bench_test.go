package bus

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/router"
)

// BenchmarkIngestSchemas measures one event through Ingest on a bus with
// no routes, with schemas off, warn and enforce, so the sub-benchmarks are
// peers in one run: what the check costs, not storing.
func BenchmarkIngestSchemas(b *testing.B) {
	ctx := context.Background()
	bus, err := newWithStore(ctx, Config{}.WithDefaults(), store.NewMemory(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Shutdown(ctx)
	if _, _, _, err := bus.PutSchema(ctx, "order.created", []byte(`{"type":"object","required":["customer","quantity"],
		"properties":{"quantity":{"type":"integer"},"status":{"enum":["new","paid"]},
		"customer":{"type":"object","properties":{"email":{"type":"string","format":"email"}}}}}`), store.AnyVersion); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{router.SchemasOff, router.SchemasWarn, router.SchemasEnforce} {
		if _, _, err := bus.PutBus(ctx, router.Bus{Name: "b-" + mode, Schemas: mode}, store.AnyVersion); err != nil {
			b.Fatal(err)
		}
	}
	for _, mode := range []string{router.SchemasOff, router.SchemasWarn, router.SchemasEnforce} {
		b.Run(mode, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				e := event.New()
				e.SetID(fmt.Sprint(i))
				e.SetSource("/shop")
				e.SetType("order.created")
				_ = e.SetData(event.ApplicationJSON, []byte(`{"customer":{"email":"a@example.com"},"quantity":2,"status":"new"}`))
				results, err := bus.Ingest(ctx, "b-"+mode, []*event.Event{&e})
				if err != nil || results[0].Err != nil {
					b.Fatal(err, results[0].Err)
				}
			}
		})
	}
}
