package router

import (
	"errors"
	"fmt"
	"time"

	"github.com/eventbus-go/eventbus/spec"
)

// Batch turns on batch delivery for a route with an HTTP target: its events
// go in requests of several, as a JSON array of structured CloudEvents
// (application/cloudevents-batch+json). A batch is sent once it holds
// MaxEvents events, or MaxWait after its first event, whichever comes
// first; where its events would take one request's body past MaxBytes,
// they go as several requests. Zero fields take the defaults below.
type Batch struct {
	MaxEvents int           `json:"max_events,omitempty"`
	MaxBytes  int           `json:"max_bytes,omitempty"`
	MaxWait   spec.Duration `json:"max_wait,omitzero"`
}

// Defaults and bounds of Batch. A batch is at most MaxBatchEvents events
// and MaxBatchBytes bytes; an event larger than max_bytes goes alone.
const (
	DefaultBatchEvents  = 100
	DefaultBatchBytes   = 1 << 20
	DefaultBatchWait    = 10 * time.Millisecond
	MaxBatchEvents      = 1000
	MinBatchBytes       = 1 << 10
	MaxBatchBytes       = 16 << 20
	MaxBatchWait        = 10 * time.Second
	batchInflightFactor = 2 // default max_inflight: one batch sending while the next fills
)

// withDefaults fills the zero fields of b, and the route's max_inflight
// when it is unset: a batch holds events in flight, so max_inflight must
// leave room for a whole batch and, by default, for the next one filling.
func (b Batch) withDefaults(d *Delivery) *Batch {
	if b.MaxEvents == 0 {
		b.MaxEvents = DefaultBatchEvents
	}
	if b.MaxBytes == 0 {
		b.MaxBytes = DefaultBatchBytes
	}
	if b.MaxWait == 0 {
		b.MaxWait = spec.Duration(DefaultBatchWait)
	}
	if d.MaxInflight == 0 {
		d.MaxInflight = max(DefaultMaxInflight, batchInflightFactor*b.MaxEvents)
	}
	return &b
}

// validateBatch checks the route's delivery.batch: its bounds, that its
// target takes batches, and that max_inflight leaves room for one.
func (r *Route) validateBatch() error {
	b := r.Delivery.Batch
	if b == nil {
		return nil
	}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &spec.FieldError{Path: "delivery.batch." + field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case r.Target.Plugin != nil:
		return &spec.FieldError{Path: "delivery.batch", Message: "applies only to HTTP targets: a plugin receives its events in batches already (plugin.ServeBatch); remove delivery.batch"}
	case r.Target.Topic != nil:
		return &spec.FieldError{Path: "delivery.batch", Message: "applies only to HTTP targets: a topic target publishes each event as its own message; remove delivery.batch"}
	}
	if b.MaxEvents < 0 || b.MaxEvents > MaxBatchEvents {
		add("max_events", "%d: must be between 1 and %d (0 means %d)", b.MaxEvents, MaxBatchEvents, DefaultBatchEvents)
	}
	if b.MaxBytes != 0 && (b.MaxBytes < MinBatchBytes || b.MaxBytes > MaxBatchBytes) {
		add("max_bytes", "%d: must be between %d and %d (0 means %d)", b.MaxBytes, MinBatchBytes, MaxBatchBytes, DefaultBatchBytes)
	}
	if b.MaxWait < 0 || time.Duration(b.MaxWait) > MaxBatchWait {
		add("max_wait", "%s: must be between 0 and %s (0 means %s)", time.Duration(b.MaxWait), MaxBatchWait, DefaultBatchWait)
	}
	events := b.MaxEvents
	if events == 0 {
		events = DefaultBatchEvents
	}
	if n := r.Delivery.MaxInflight; n > 0 && n < events {
		add("max_events", "%d is more than delivery.max_inflight (%d), and a batch holds events in flight: raise max_inflight to at least %d (%d lets one batch fill while another is sent), or leave it unset", events, n, events, batchInflightFactor*events)
	}
	return errors.Join(errs...)
}
