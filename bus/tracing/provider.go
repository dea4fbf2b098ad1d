package tracing

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Name is the instrumentation scope of the bus's spans.
const Name = "github.com/eventbus-go/eventbus"

// Configured reports whether spans should be exported: endpoint is set, or
// the standard OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT variable is.
func Configured(endpoint string) bool {
	return endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// NewProvider returns a TracerProvider that exports spans in batches to an
// OTLP/HTTP collector at endpoint (a URL such as http://127.0.0.1:4318, to
// which /v1/traces is added when it has no path, as for
// OTEL_EXPORTER_OTLP_ENDPOINT); with endpoint empty, the exporter reads the
// standard OTEL_EXPORTER_OTLP_* variables. The service is named
// "eventbus" unless OTEL_SERVICE_NAME says otherwise. Shut it down to
// flush the last spans.
func NewProvider(ctx context.Context, endpoint string) (*sdktrace.TracerProvider, error) {
	var opts []otlptracehttp.Option
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("OTLP endpoint %q is not an http(s) URL such as http://127.0.0.1:4318", endpoint)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exporter, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter to %q: %w (check tracing.otlp_endpoint or OTEL_EXPORTER_OTLP_ENDPOINT)", endpoint, err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "eventbus")),
		resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("tracing resource from OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res)), nil
}
