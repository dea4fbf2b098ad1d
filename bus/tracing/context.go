package tracing

import (
	"context"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The CloudEvents distributed tracing extension's attributes.
const (
	ExtTraceparent = "traceparent"
	ExtTracestate  = "tracestate"
)

// w3c reads and writes traceparent and tracestate; it keeps no state.
var w3c propagation.TraceContext

// FromEvent returns ctx carrying, as remote parent, the trace context of
// e's traceparent extension; ctx itself when e has none that is valid.
func FromEvent(ctx context.Context, e *event.Event) context.Context {
	if _, ok := e.Extensions()[ExtTraceparent]; !ok {
		return ctx
	}
	return w3c.Extract(ctx, eventCarrier{e})
}

// ToEvent sets e's traceparent (and tracestate) extension to the span
// context in ctx; it leaves e alone when ctx holds none.
func ToEvent(ctx context.Context, e *event.Event) {
	if !InSpan(ctx) {
		return
	}
	w3c.Inject(ctx, eventCarrier{e})
}

// FromHeader returns ctx carrying the trace context of h's traceparent
// header as remote parent; ctx itself when h has none that is valid.
func FromHeader(ctx context.Context, h http.Header) context.Context {
	if h.Get(ExtTraceparent) == "" {
		return ctx
	}
	return w3c.Extract(ctx, propagation.HeaderCarrier(h))
}

// ToHeader sets h's traceparent (and tracestate) header to the span
// context in ctx; it leaves h alone when ctx holds none.
func ToHeader(ctx context.Context, h interface{ Set(key, value string) }) {
	if !InSpan(ctx) {
		return // and h is not boxed in a carrier, which allocates
	}
	w3c.Inject(ctx, headerSetter{h})
}

// headerSetter carries trace context into a request's header, which
// Inject only sets.
type headerSetter struct {
	h interface{ Set(key, value string) }
}

func (c headerSetter) Get(string) string     { return "" }
func (c headerSetter) Set(key, value string) { c.h.Set(key, value) }
func (c headerSetter) Keys() []string        { return nil }

// InSpan reports whether ctx holds a valid span context.
func InSpan(ctx context.Context) bool {
	return trace.SpanContextFromContext(ctx).IsValid()
}

// eventCarrier reads and writes trace context as event extensions.
type eventCarrier struct{ e *event.Event }

func (c eventCarrier) Get(key string) string {
	v, ok := c.e.Extensions()[key]
	if !ok {
		return ""
	}
	s, err := types.ToString(v)
	if err != nil {
		return ""
	}
	return s
}

func (c eventCarrier) Set(key, value string) {
	c.e.SetExtension(key, value)
}

func (c eventCarrier) Keys() []string { return []string{ExtTraceparent, ExtTracestate} }
