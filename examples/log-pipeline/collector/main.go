// Command collector stands in for the log collectors of a fleet: several
// collectors at once emit log events (log.info, log.warn, log.error) as
// fast as the bus takes them, many per request (sdk.Client.EmitBatch). It
// knows nothing of Kafka or of the store: the bus's logs route does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/eventbus-go/eventbus/sdk"
)

func main() {
	busURL := flag.String("bus", "http://127.0.0.1:8080", "the bus's URL")
	total := flag.Int("n", 10000, "log events to emit, over all collectors")
	collectors := flag.Int("collectors", 4, "collectors emitting at once")
	batch := flag.Int("batch", 100, "events per request")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	client, err := sdk.New(*busURL, sdk.Options{})
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	n, err := run(ctx, client, *total, *collectors, *batch)
	took := time.Since(start)
	fmt.Printf("emitted %d log events in %s (%.0f/s)\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	if err != nil {
		log.Fatal(err)
	}
}

// logLine is the data of a log event.
type logLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Seq   int    `json:"seq"` // per collector
}

var levels = []string{"info", "info", "info", "info", "info", "info", "info", "warn", "warn", "error"}

// run shares total events between collectors and returns how many the bus
// stored, with an error for the rest.
func run(ctx context.Context, c *sdk.Client, total, collectors, batch int) (int, error) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stored int
		errs   []error
	)
	// Ids are unique per run: the bus drops a repeat of (source, id) seen
	// in its dedup window, as a resent event.
	runID := uuid.NewString()[:8]
	for i := range collectors {
		n := total / collectors
		if i < total%collectors {
			n++
		}
		wg.Go(func() {
			ok, err := collect(ctx, c, fmt.Sprintf("collector/web-%d", i+1), runID, n, batch)
			mu.Lock()
			defer mu.Unlock()
			stored += ok
			errs = append(errs, err)
		})
	}
	wg.Wait()
	return stored, errors.Join(errs...)
}

// collect emits n log events from source, batch per request, with ids
// runID-1 to runID-n.
func collect(ctx context.Context, c *sdk.Client, source, runID string, n, batch int) (int, error) {
	stored := 0
	events := make([]event.Event, 0, batch)
	for seq := 1; seq <= n; seq++ {
		level := levels[seq%len(levels)]
		e := event.New()
		e.SetID(runID + "-" + strconv.Itoa(seq))
		e.SetSource(source)
		e.SetType("log." + level)
		e.SetTime(time.Now())
		_ = e.SetData(event.ApplicationJSON, logLine{Level: level, Msg: fmt.Sprintf("GET /items/%d 200", seq%500), Seq: seq})
		events = append(events, e)
		if len(events) < batch && seq < n {
			continue
		}
		results, err := c.EmitBatch(ctx, events)
		if err != nil {
			return stored, fmt.Errorf("%s: %w", source, err)
		}
		// The bus takes or refuses each event of a batch on its own.
		for _, r := range results {
			if r.Error != nil {
				return stored, fmt.Errorf("%s: event %s: %w", source, r.ID, r.Error)
			}
			stored++
		}
		events = events[:0]
	}
	return stored, nil
}
