package bus

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventbus-go/eventbus/bus/tracing"
)

// startTracing sets the bus's tracer: from the embedding program's
// provider, or an OTLP exporter when the config or the environment names
// an endpoint; none otherwise.
func (b *Bus) startTracing(ctx context.Context) error {
	if tp := b.cfg.TracerProvider; tp != nil {
		b.tracer = tp.Tracer(tracing.Name)
		return nil
	}
	if !tracing.Configured(b.cfg.Tracing.OTLPEndpoint) {
		return nil
	}
	tp, err := tracing.NewProvider(ctx, b.cfg.Tracing.OTLPEndpoint)
	if err != nil {
		return err
	}
	b.tracer, b.stopTracing = tp.Tracer(tracing.Name), tp.Shutdown
	return nil
}

// Traces reports whether the bus records spans, so that its HTTP layer
// reads trace headers only when they are used.
func (b *Bus) Traces() bool { return b.tracer != nil }

// storeTraced is storeOnce inside an ingest span, when tracing is on. The
// span continues the trace of e's traceparent extension, else the one in
// ctx (the request's header), and the event is stored carrying it.
func (b *Bus) storeTraced(ctx context.Context, busName string, br *busRoutes, e *event.Event, key eventKey) Result {
	if b.tracer == nil {
		return b.storeOnce(ctx, busName, br, e, key)
	}
	ctx, span := b.tracer.Start(tracing.FromEvent(ctx, e), "ingest "+busName,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("eventbus.bus", busName),
			attribute.String("cloudevents.event_id", e.ID()),
			attribute.String("cloudevents.event_source", key.source),
			attribute.String("cloudevents.event_type", e.Type()),
		))
	defer span.End()
	tracing.ToEvent(ctx, e)
	res := b.storeOnce(ctx, busName, br, e, key)
	span.SetAttributes(attribute.StringSlice("eventbus.routes", res.Routes))
	if res.Err != nil {
		span.SetStatus(codes.Error, res.Err.Error())
	}
	return res
}
