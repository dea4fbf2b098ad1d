package plugin

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Handler handles one event at a time (many at once, concurrently).
type Handler interface {
	// Handle returns what the bus does with e. An error means retry.
	Handle(ctx context.Context, e event.Event) (Result, error)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, e event.Event) (Result, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, e event.Event) (Result, error) { return f(ctx, e) }

// BatchHandler handles the events the host delivered together (up to 256,
// as many as were waiting). Use it where one call per batch is cheaper than
// one per event: a multi-row insert, one API call for many.
type BatchHandler interface {
	// HandleBatch returns one Result per event, in order. An error means
	// retry every event of the batch.
	HandleBatch(ctx context.Context, events []event.Event) ([]Result, error)
}

// BatchHandlerFunc adapts a function to a BatchHandler.
type BatchHandlerFunc func(ctx context.Context, events []event.Event) ([]Result, error)

// HandleBatch calls f.
func (f BatchHandlerFunc) HandleBatch(ctx context.Context, events []event.Event) ([]Result, error) {
	return f(ctx, events)
}
