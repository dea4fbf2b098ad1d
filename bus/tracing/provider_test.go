package tracing_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/router"
)

// collector is an OTLP/HTTP endpoint that keeps the names of the spans
// exported to it.
type collector struct {
	mu    sync.Mutex
	names []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.names = append(c.names, s.GetName())
			}
		}
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(nil)
}

// tracing.otlp_endpoint in the config sends the spans of ingest and
// delivery to that collector over OTLP/HTTP; shutting the bus down flushes
// the last of them.
func TestTheConfiguredOTLPEndpointReceivesTheSpans(t *testing.T) {
	t.Parallel()
	col := &collector{}
	srv := httptest.NewServer(col)
	t.Cleanup(srv.Close)
	hook := bustest.NewWebhook(t, nil)
	b := bustest.Start(t, bus.Config{
		Tracing: bus.TracingConfig{OTLPEndpoint: srv.URL},
		Routes:  []router.Route{retried("r", hook.URL, 1)},
	})
	bustest.Emit(t, b.URL, "1", nil)
	d := hook.Next(t)
	if d.Header.Get("traceparent") == "" {
		t.Error("with an OTLP endpoint configured the target received no traceparent")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	want := map[string]bool{"ingest default": false, "deliver r": false}
	for _, n := range col.names {
		if _, ok := want[n]; ok {
			want[n] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("the collector received no span %q (got %v)", name, col.names)
		}
	}
}
