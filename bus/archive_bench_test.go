package bus_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/router"
)

// BenchmarkIngestArchive is the cost of the archive at ingress: one event
// stored on one paused route of an embedded NATS store, with the bus's
// archive on (the default) and off.
func BenchmarkIngestArchive(b *testing.B) {
	for _, mode := range []struct {
		name    string
		archive *router.Archive
	}{{"on", nil}, {"off", &router.Archive{Off: true}}} {
		b.Run(mode.name, func(b *testing.B) {
			cfg := bus.Config{
				DefaultBackend: "nats+embedded://?dir=" + b.TempDir(),
				Buses:          []router.Bus{{Name: "bench", Archive: mode.archive}},
				Routes: []router.Route{{Name: "sink", Bus: "bench", Paused: true,
					Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/"}}}},
			}
			srv := bustest.Start(b, cfg)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				e := event.New()
				e.SetID(strconv.Itoa(i))
				e.SetSource("/bench")
				e.SetType("t")
				res, err := srv.Bus.Ingest(ctx, "bench", []*event.Event{&e})
				if err != nil || res[0].Err != nil {
					b.Fatal(err, res[0].Err)
				}
			}
		})
	}
}
