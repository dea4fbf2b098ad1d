// Package tracing carries W3C trace context through the bus with
// OpenTelemetry: in and out of HTTP headers and CloudEvents' distributed
// tracing extension, an OTLP exporter when one is configured, and trace ids
// on log lines.
//
// The contract:
//
//   - Tracing is off unless an OTLP endpoint is configured (NewProvider) or
//     the embedding program gives the bus a TracerProvider. Off, the bus
//     starts no span and reads no trace header: an event's traceparent
//     extension is kept and delivered like any other extension.
//   - On, ingress continues the trace of an event's traceparent extension,
//     else that of the request's traceparent header, else starts one; it
//     records one span per event it ingests and stores the event with the
//     traceparent (and tracestate) of that span. The canonical event
//     encoding keeps extensions, so retries requeued on the channel, dead
//     letters and redriven events carry it too.
//   - A dispatcher records one span per delivery attempt, a child of the
//     ingest span, and hands the attempt's trace context to the target: the
//     traceparent header for HTTP targets, the traceparent extension for
//     plugins and topics.
//   - LogHandler adds trace_id and span_id to every log line written with a
//     context that holds a span (slog's *Context methods).
package tracing
