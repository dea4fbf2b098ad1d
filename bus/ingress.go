package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"gocloud.dev/pubsub"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/router"
)

// acceptedEvent and rejectedEvent are the per-event results of a 202.
type acceptedEvent struct {
	ID     string   `json:"id"`
	Source string   `json:"source"`
	Routes []string `json:"routes"`
}

type rejectedEvent struct {
	ID     string    `json:"id"`
	Source string    `json:"source,omitempty"`
	Error  *apiError `json:"error"`
}

type ingressResponse struct {
	Results []any `json:"results"`
}

// handleEvents is the ingress: it reads the events of one request, matches
// each against the bus's routes and stores it on every matching route's
// channel. It answers 202 once every event it reports as accepted is stored.
func (b *Bus) handleEvents(w http.ResponseWriter, r *http.Request) {
	busName := r.PathValue("bus")
	if busName == "" {
		busName = router.DefaultBus
	}
	routes := b.state.Load().buses[busName]
	if routes == nil {
		writeError(w, &apiError{Code: adapters.NotFound.String(), status: http.StatusNotFound,
			Message: fmt.Sprintf("bus %q does not exist: create a route with bus: %s first", busName, busName)})
		return
	}
	body, aerr := readBody(w, r, b.cfg.MaxBodyBytes)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	events, aerr := decodeRequest(r.Header, body)
	if aerr != nil {
		writeError(w, aerr)
		return
	}

	results := make([]any, len(events))
	if len(events) == 1 {
		results[0] = routes.store(r.Context(), events[0])
	} else {
		var wg sync.WaitGroup
		for i, d := range events {
			wg.Go(func() { results[i] = routes.store(r.Context(), d) })
		}
		wg.Wait()
	}

	status := http.StatusAccepted
	var first *apiError
	for _, res := range results {
		rej, ok := res.(rejectedEvent)
		if !ok {
			first = nil
			break
		}
		if first == nil {
			first = rej.Error
		}
	}
	if first != nil { // nothing was stored: no 2xx
		status = first.status
		setRetryAfter(w, status)
	}
	writeJSON(w, status, ingressResponse{Results: results})
}

// store matches one decoded event and publishes it to every matching
// route's channel, returning its result.
func (br *busRoutes) store(ctx context.Context, d decoded) any {
	if d.err != nil {
		return rejectedEvent{ID: d.id, Source: d.source, Error: d.err}
	}
	e := d.event
	names := br.matcher.Match(router.NewEvent(e))
	if names == nil {
		names = []string{}
	}
	if len(names) > 0 {
		if err := br.publish(ctx, e, names); err != nil {
			return rejectedEvent{ID: e.ID(), Source: e.Source(), Error: toAPIError(err)}
		}
	}
	return acceptedEvent{ID: e.ID(), Source: e.Source(), Routes: names}
}

// publish sends e to the named routes' channels at once and waits for every
// confirm. The first error wins; routes that did store the event keep it,
// which a retry by the producer may duplicate (delivery is at-least-once).
func (br *busRoutes) publish(ctx context.Context, e *event.Event, names []string) error {
	msg, err := adapters.EncodeEvent(e)
	if err != nil {
		return err
	}
	send := func(name string) error {
		// Each Send needs its own Message; body and metadata are shared read-only.
		if err := br.routes[name].topic.Send(ctx, &pubsub.Message{Body: msg.Body, Metadata: msg.Metadata}); err != nil {
			return fmt.Errorf("route %s: %w", name, err)
		}
		return nil
	}
	if len(names) == 1 {
		return send(names[0])
	}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { errs[i] = send(name) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func setRetryAfter(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(1))
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(5))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	ae := toAPIError(err)
	setRetryAfter(w, ae.status)
	writeJSON(w, ae.status, map[string]*apiError{"error": ae})
}
