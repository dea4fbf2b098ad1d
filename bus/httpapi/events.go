package httpapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
)

// handleLookupEvent answers GET /v1/events?bus=B&source=S&id=I: what
// became of one event (bus.Event).
func (b *Server) handleLookupEvent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	busName, source, id := cmp.Or(q.Get("bus"), router.DefaultBus), q.Get("source"), q.Get("id")
	if source == "" || id == "" {
		writeError(w, errcode.Errorf(errcode.InvalidArgument, "query parameters source and id are required: GET /v1/events?bus=B&source=S&id=I"))
		return
	}
	e, err := b.Event(r.Context(), busName, source, id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// tailHeartbeat is how often a quiet tail sends a comment, so proxies and
// clients see the stream is alive; tailWriteTimeout bounds one write to a
// reader that stopped reading.
const (
	tailHeartbeat    = 15 * time.Second
	tailWriteTimeout = 10 * time.Second
)

// tailedEvent is the data of one "event" message of a tail.
type tailedEvent struct {
	Event      any       `json:"event"` // a structured CloudEvent
	Routes     []string  `json:"routes"`
	AcceptedAt time.Time `json:"accepted_at"`
}

// handleTail streams the events ingress stores on a bus as Server-Sent
// Events, until the client goes away: "event" messages carry one event
// each, with the routes that stored it; a "dropped" message carries the
// count of events dropped so far because the client read too slowly. The
// stream ends when the client goes away or the server shuts down.
func (b *Server) handleTail(w http.ResponseWriter, r *http.Request) {
	tail, err := b.Tail(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(kind string, data any) error {
		// The server's write_timeout would end the stream: each write gets
		// its own deadline instead.
		if err := writeDeadline(rc); err != nil {
			return err
		}
		body, err := json.Marshal(data)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", kind, body); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send("ready", map[string]string{"bus": r.PathValue("name")}); err != nil {
		return
	}
	var stopping <-chan struct{} // nil outside Run: never
	if b.streaming != nil {
		stopping = b.streaming.Done()
	}
	heartbeat := time.NewTicker(tailHeartbeat)
	defer heartbeat.Stop()
	var reported int64
	reportDrops := func() error {
		n := tail.Dropped()
		if n == reported {
			return nil
		}
		reported = n
		return send("dropped", map[string]int64{"dropped": n})
	}
	for {
		select {
		case <-stopping:
			return
		case <-heartbeat.C:
			if err := reportDrops(); err != nil {
				return
			}
			if err := writeDeadline(rc); err != nil {
				return
			}
			if _, err := fmt.Fprint(w, ": alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case t, ok := <-tail.Events():
			if !ok { // the request's context ended
				return
			}
			if err := reportDrops(); err != nil {
				return
			}
			if err := send("event", tailedEvent{Event: t.Event, Routes: t.Routes, AcceptedAt: t.AcceptedAt}); err != nil {
				return
			}
		}
	}
}

// writeDeadline gives the next write of a stream tailWriteTimeout; a writer
// that keeps no deadlines (wrapped by middleware) is left as it is.
func writeDeadline(rc *http.ResponseController) error {
	if err := rc.SetWriteDeadline(time.Now().Add(tailWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
