package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
)

// stalledWriter is a client that stops reading: every write waits until
// the test lets it through.
type stalledWriter struct {
	header  http.Header
	writing chan struct{} // closed at the first write
	once    sync.Once
	release chan struct{}
	mu      sync.Mutex
	out     bytes.Buffer
}

func (w *stalledWriter) Header() http.Header { return w.header }
func (w *stalledWriter) WriteHeader(int)     {}
func (w *stalledWriter) Flush()              {}

func (w *stalledWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.writing) })
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

func (w *stalledWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

// A client that falls behind is told how many events it missed, before
// the next event it gets.
func TestATailSignalsItsDropsToTheClient(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := New(ctx, bus.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	w := &stalledWriter{header: http.Header{}, writing: make(chan struct{}), release: make(chan struct{})}
	reqCtx, stop := context.WithCancel(ctx)
	req := httptest.NewRequestWithContext(reqCtx, http.MethodGet, "/v1/buses/default/tail", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Handler().ServeHTTP(w, req)
	}()
	// The tail exists once its first write (ready) is under way.
	select {
	case <-w.writing:
	case <-time.After(10 * time.Second):
		t.Fatal("the tail wrote nothing within 10s")
	}

	const extra = 3
	for i := range bus.TailBuffer + extra {
		e := event.New()
		e.SetID(fmt.Sprint(i))
		e.SetSource("/src")
		e.SetType("t")
		if _, err := s.Ingest(context.Background(), router.DefaultBus, []*event.Event{&e}); err != nil {
			t.Fatal(err)
		}
	}
	close(w.release)
	testkit.Eventually(t, 10*time.Second, "the drop count in the stream", func() bool {
		return strings.Contains(w.String(), "event: dropped\ndata: {\"dropped\":3}\n\n")
	})
	out := w.String()
	if drop, first := strings.Index(out, "event: dropped"), strings.Index(out, "event: event"); first < drop {
		t.Errorf("the drop count came after an event; want it before the next event the client gets:\n%.400s", out)
	}
	stop()
	<-done
}
