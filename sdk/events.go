package sdk

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// EventFate is what a bus knows of one event it accepted recently: when,
// which routes it matched, and per route its state and attempts. A bus
// keeps it in a bounded history (by count and age, per process).
type EventFate struct {
	Bus    string `json:"bus"`
	Source string `json:"source"`
	ID     string `json:"id"`
	// AcceptedAt is zero when the bus learnt of the event from a delivery
	// or a redrive only (another replica accepted it).
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	// Routes are the routes it matched; empty when none did.
	Routes []RouteFate `json:"routes"`
}

// RouteFate is what became of an event on one route.
type RouteFate struct {
	Route string `json:"route"`
	// State is pending, delivered, retrying, dead_lettered or dropped.
	State string `json:"state"`
	// Attempts counts every attempt; LatestAttempts holds the last ones
	// (at most 16).
	Attempts       int            `json:"attempts"`
	LatestAttempts []EventAttempt `json:"latest_attempts"`
	RedrivenAt     time.Time      `json:"redriven_at,omitzero"`
}

// EventAttempt is one try at a route's target.
type EventAttempt struct {
	At        time.Time `json:"at"`
	Verdict   string    `json:"verdict"`          // ack, retry, drop or dead-letter
	Status    int       `json:"status,omitempty"` // the target's HTTP status, when it answered one
	Reason    string    `json:"reason,omitempty"`
	LatencyMS float64   `json:"latency_ms"`
}

// Event looks up what became of the event (source, id) on bus (empty: the
// default bus). An event the bus's history does not hold is an error for
// which IsNotFound is true.
func (c *Client) Event(ctx context.Context, bus, source, id string) (EventFate, error) {
	q := url.Values{"source": {source}, "id": {id}}
	if bus != "" {
		q.Set("bus", bus)
	}
	var out EventFate
	_, err := c.do(ctx, http.MethodGet, "/v1/events?"+q.Encode(), "", nil, &out)
	return out, err
}
