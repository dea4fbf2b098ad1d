package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/bus/httpapi"
	"github.com/eventbus-go/eventbus/bus/tracing"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/plugins"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// lockedBuffer is a log destination the bus's goroutines share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// tracedBus serves a bus recording its spans in memory and logging JSON
// through tracing.LogHandler into logs, until the test ends.
func tracedBus(t *testing.T, routes ...router.Route) (base string, spans *tracetest.SpanRecorder, logs *lockedBuffer, b *bus.Bus) {
	t.Helper()
	spans = tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	logs = &lockedBuffer{}
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := httpapi.New(ctx, bus.Config{Routes: routes, TracerProvider: tp}, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stopping the bus: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), spans, logs, srv.Bus
}

func retried(name, url string, attempts int) router.Route {
	return router.Route{
		Name:   name,
		Target: router.Target{HTTP: &router.HTTPTarget{URL: url}},
		Delivery: router.Delivery{
			MaxAttempts: attempts,
			Backoff:     router.Backoff{Initial: spec.Duration(5 * time.Millisecond), Max: spec.Duration(20 * time.Millisecond)},
		},
	}
}

// ended waits until the recorder holds n ended spans named with prefix,
// and returns them in the order they ended.
func ended(t *testing.T, spans *tracetest.SpanRecorder, prefix string, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	var got []sdktrace.ReadOnlySpan
	testkit.EventuallyNoError(t, 10*time.Second, func() error {
		got = got[:0]
		for _, s := range spans.Ended() {
			if strings.HasPrefix(s.Name(), prefix) {
				got = append(got, s)
			}
		}
		if len(got) < n {
			return fmt.Errorf("%d spans %q ended, want %d", len(got), prefix, n)
		}
		return nil
	})
	return got
}

const (
	producerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	producerSpan  = "00f067aa0ba902b7"
)

// An event's trace runs from the producer through ingest to every attempt
// at its target: ingest continues the trace of the request's traceparent,
// a failed attempt and the retry are both children of the ingest span, and
// the target receives the trace context of the attempt it answered. A
// retry log line written within the delivery names the trace.
func TestOneTraceRunsFromTheProducerThroughEveryAttempt(t *testing.T) {
	t.Parallel()
	hook := bustest.NewWebhook(t, func(call int) int {
		if call == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	base, spans, logs, _ := tracedBus(t, retried("r", hook.URL, 3))
	bustest.Emit(t, base, "1", map[string]string{"traceparent": "00-" + producerTrace + "-" + producerSpan + "-01"})
	delivered := hook.Next(t)

	ingest := ended(t, spans, "ingest ", 1)[0]
	attempts := ended(t, spans, "deliver r", 2)
	if got := ingest.SpanContext().TraceID().String(); got != producerTrace {
		t.Fatalf("ingest span in trace %s, want the producer's %s", got, producerTrace)
	}
	if got := ingest.Parent().SpanID().String(); got != producerSpan {
		t.Errorf("ingest span's parent is %s, want the producer's span %s", got, producerSpan)
	}
	for i, a := range attempts {
		if a.SpanContext().TraceID() != ingest.SpanContext().TraceID() {
			t.Errorf("attempt %d in trace %s, want %s", i+1, a.SpanContext().TraceID(), producerTrace)
		}
		if a.Parent().SpanID() != ingest.SpanContext().SpanID() {
			t.Errorf("attempt %d's parent is %s, want the ingest span %s", i+1, a.Parent().SpanID(), ingest.SpanContext().SpanID())
		}
	}
	if attempts[0].Status().Code != codes.Error {
		t.Errorf("attempt 1 (answered 500) has status %v, want Error", attempts[0].Status())
	}
	if attempts[1].Status().Code == codes.Error {
		t.Errorf("attempt 2 (answered 200) has status %v", attempts[1].Status())
	}
	want := "00-" + producerTrace + "-" + attempts[1].SpanContext().SpanID().String() + "-01"
	if got := delivered.Header.Get("traceparent"); got != want {
		t.Errorf("the target received traceparent %q, want the delivering attempt's %q", got, want)
	}

	var retryLine map[string]any
	for _, line := range logs.lines() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "delivery failed; retrying" {
			retryLine = rec
		}
	}
	if retryLine == nil {
		t.Fatalf("no retry logged; lines: %v", logs.lines())
	}
	if retryLine["trace_id"] != producerTrace || retryLine["event_id"] != "1" || retryLine["route"] != "r" {
		t.Errorf("retry log line %v: want trace_id %s, event_id 1, route r", retryLine, producerTrace)
	}
	if _, ok := retryLine["span_id"].(string); !ok {
		t.Errorf("retry log line %v has no span_id", retryLine)
	}
}

// A producer's traceparent extension (ce-traceparent) is the event's own
// trace and wins over the request's header; a dead letter keeps the trace,

// In a batch each event carries the trace context of its own attempt, a
// retry's too: here on an ordered route, where the bus holds the retry
// and sends it as a batch of one.
func TestEachEventOfABatchCarriesItsAttemptsTraceparent(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	got := make(chan string, 2) // the traceparent of each event received
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var events []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&events); err != nil || len(events) != 1 {
			t.Errorf("want a batch of one event; got %d events (%v)", len(events), err)
		}
		for _, e := range events {
			got <- fmt.Sprint(e["traceparent"])
		}
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(target.Close)
	r := retried("b", target.URL, 3)
	r.Delivery.OrderingKey = "subject"
	r.Delivery.Batch = &router.Batch{MaxEvents: 10, MaxWait: spec.Duration(10 * time.Millisecond)}
	base, spans, _, _ := tracedBus(t, r)
	bustest.Emit(t, base, "1", map[string]string{"traceparent": "00-" + producerTrace + "-" + producerSpan + "-01", "ce-subject": "k"})

	attempts := ended(t, spans, "deliver b", 2)
	for i, a := range attempts {
		want := "00-" + producerTrace + "-" + a.SpanContext().SpanID().String() + "-01"
		if tp := <-got; tp != want {
			t.Errorf("attempt %d sent the event with traceparent %q; want its own span's %q", i+1, tp, want)
		}
	}
}

// so its redrive continues it.
func TestADeadLetterKeepsTheTraceOfItsEvent(t *testing.T) {
	t.Parallel()
	var healed atomic.Bool
	hook := bustest.NewWebhook(t, func(int) int {
		if healed.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	base, spans, _, b := tracedBus(t, retried("r", hook.URL, 1))
	other := "0af7651916cd43dd8448eb211c80319c"
	bustest.Emit(t, base, "1", map[string]string{
		"ce-traceparent": "00-" + producerTrace + "-" + producerSpan + "-01",
		"traceparent":    "00-" + other + "-b7ad6b7169203331-01",
	})
	attempt := ended(t, spans, "deliver r", 1)[0]
	if got := attempt.SpanContext().TraceID().String(); got != producerTrace {
		t.Fatalf("attempt in trace %s, want the event's own %s", got, producerTrace)
	}
	var dead []string
	testkit.EventuallyNoError(t, 10*time.Second, func() error {
		events, _, err := b.DeadLetters(context.Background(), "r", 0, 10)
		if err != nil {
			return err
		}
		dead = dead[:0]
		for _, e := range events {
			tp, _ := e.Extensions()[tracing.ExtTraceparent].(string)
			dead = append(dead, tp)
		}
		if len(dead) != 1 {
			return fmt.Errorf("%d dead letters, want 1", len(dead))
		}
		return nil
	})
	sc := trace.SpanContextFromContext(tracing.FromHeader(context.Background(), http.Header{"Traceparent": {dead[0]}}))
	if sc.TraceID().String() != producerTrace {
		t.Errorf("dead letter's traceparent %q is not in the event's trace %s", dead[0], producerTrace)
	}

	healed.Store(true)
	if n, err := b.Redrive(context.Background(), "r", nil); err != nil || n != 1 {
		t.Fatalf("redrive: %d, %v; want 1 event put back", n, err)
	}
	delivered := hook.Next(t)
	redriven := ended(t, spans, "deliver r", 2)[1]
	if got := redriven.SpanContext().TraceID().String(); got != producerTrace {
		t.Errorf("the redriven attempt is in trace %s, want the event's %s", got, producerTrace)
	}
	if got := delivered.Header.Get("traceparent"); !strings.Contains(got, producerTrace) {
		t.Errorf("the target received traceparent %q after the redrive, want one in trace %s", got, producerTrace)
	}
}

// With tracing off the bus reads no trace header and starts nothing: the
// request's traceparent goes no further, while the event's own traceparent
// extension is delivered like any other extension.
func TestWithTracingOffTheEventsExtensionPassesThroughUntouched(t *testing.T) {
	t.Parallel()
	hook := bustest.NewWebhook(t, nil)
	b := bustest.Start(t, bus.Config{Routes: []router.Route{retried("r", hook.URL, 1)}})
	own := "00-" + producerTrace + "-" + producerSpan + "-01"
	bustest.Emit(t, b.URL, "1", map[string]string{
		"ce-traceparent": own,
		"traceparent":    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	})
	d := hook.Next(t)
	if got := d.Header.Get("ce-traceparent"); got != own {
		t.Errorf("ce-traceparent delivered as %q, want the event's own %q unchanged", got, own)
	}
	if got := d.Header.Get("traceparent"); got != "" {
		t.Errorf("with tracing off the target received traceparent %q; nothing should be made up", got)
	}
}

// A plugin receives the attempt's trace context in the event's traceparent
// extension, and the events it replies with stay in the trace.
func TestAPluginIsDeliveredTheAttemptsTraceparent(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "testplugin")
	if out, err := exec.Command("go", "build", "-o", bin, "../../plugins/internal/testplugin").CombinedOutput(); err != nil {
		t.Fatalf("building the test plugin: %v\n%s", err, out)
	}
	hook := bustest.NewWebhook(t, nil)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	b := bustest.Start(t, bus.Config{
		TracerProvider: tp,
		Plugins:        []plugins.Config{{Name: "echo", Cmd: bin}},
		Routes: []router.Route{
			{Name: "handler", Match: []byte(`{"type":["test.echo"]}`), Target: router.Target{Plugin: &router.PluginTarget{Name: "echo"}}},
			{Name: "replies", Match: []byte(`{"type":["test.echoed"]}`), Target: router.Target{HTTP: &router.HTTPTarget{URL: hook.URL}}},
		},
	})
	bustest.Emit(t, b.URL, "1", map[string]string{"ce-type": "test.echo", "traceparent": "00-" + producerTrace + "-" + producerSpan + "-01"})
	reply := hook.Next(t)
	attempt := ended(t, spans, "deliver handler", 1)[0]
	var data struct{ Traceparent string }
	if err := json.Unmarshal(reply.Body, &data); err != nil {
		t.Fatalf("reply data %q: %v", reply.Body, err)
	}
	want := "00-" + producerTrace + "-" + attempt.SpanContext().SpanID().String() + "-01"
	if data.Traceparent != want {
		t.Errorf("the plugin received traceparent %q, want the attempt's %q", data.Traceparent, want)
	}
	if got := reply.Header.Get("traceparent"); !strings.Contains(got, producerTrace) {
		t.Errorf("the reply was delivered with traceparent %q, want one in trace %s", got, producerTrace)
	}
}
