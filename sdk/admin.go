package sdk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"
)

// RouteStats are a route's counters since the bus process started, and its
// channel's state now.
type RouteStats struct {
	Route        string `json:"route"`
	Accepted     int64  `json:"accepted"`      // stored on the route's channel by ingress
	Delivered    int64  `json:"delivered"`     // acked by the target
	Retried      int64  `json:"retried"`       // attempts that failed and were scheduled again
	DeadLettered int64  `json:"dead_lettered"` // moved to the dead-letter channel
	Dropped      int64  `json:"dropped"`       // discarded on purpose
	Diverted     int64  `json:"diverted"`      // sent to the divert route because this one was full
	// SubscriberDrops: copies a ZeroMQ topic target did not send to a
	// subscriber whose queue was full (when_full: drop).
	SubscriberDrops int64 `json:"subscriber_drops"`
	Depth           int64 `json:"depth"`        // events waiting in the channel now
	DeadLetters     int64 `json:"dead_letters"` // events in the dead-letter channel now
	Inflight        int64 `json:"inflight"`     // deliveries in progress now
	Blocked         int64 `json:"blocked"`      // producers waiting for room now
	Dispatchers     int   `json:"dispatchers"`  // deliveries the route runs at once at most; 0 while paused
	// Plugin is the state of the route's plugin, for a plugin target.
	Plugin       *PluginStats `json:"plugin,omitempty"`
	LatencyP50ms float64      `json:"latency_p50_ms"`
	LatencyP99ms float64      `json:"latency_p99_ms"`
}

// PluginStats are the processes behind a plugin target.
type PluginStats struct {
	Name      string `json:"name"`
	Instances int    `json:"instances"` // running now
	Restarts  int64  `json:"restarts"`  // processes replaced after a crash or a hang
	Inflight  int64  `json:"inflight"`  // deliveries waiting for a verdict now, all routes together
}

// RouteStats returns a route's counters.
func (c *Client) RouteStats(ctx context.Context, route string) (RouteStats, error) {
	var out RouteStats
	_, err := c.do(ctx, http.MethodGet, "/v1/routes/"+url.PathEscape(route)+"/stats", "", nil, &out)
	return out, err
}

// DeadLetterPage is one page of a route's dead letters.
type DeadLetterPage struct {
	// Events are the dead letters, oldest first. Each carries the bus's
	// extensions deadletterreason, deadletterroute, deliveryattempts,
	// firstattempttime and lastattempttime.
	Events []event.Event `json:"events"`
	// Total counts all the route's dead letters, past this page too.
	Total int `json:"total"`
}

// PageOptions select a page; a zero Limit means the bus's default (50).
type PageOptions struct {
	Limit, Offset int
}

// DeadLetters lists a page of the route's dead-letter channel.
func (c *Client) DeadLetters(ctx context.Context, route string, page PageOptions) (DeadLetterPage, error) {
	q := url.Values{}
	if page.Limit > 0 {
		q.Set("limit", strconv.Itoa(page.Limit))
	}
	if page.Offset > 0 {
		q.Set("offset", strconv.Itoa(page.Offset))
	}
	path := "/v1/routes/" + url.PathEscape(route) + "/dlq"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out DeadLetterPage
	_, err := c.do(ctx, http.MethodGet, path, "", nil, &out)
	return out, err
}

// Redrive puts the route's dead letters with the given event ids back on
// its channel for delivery, or all of them when ids is empty, and returns
// how many it put back.
func (c *Client) Redrive(ctx context.Context, route string, ids ...string) (int, error) {
	body := []byte("{}")
	if len(ids) > 0 {
		var err error
		if body, err = json.Marshal(map[string][]string{"ids": ids}); err != nil {
			return 0, err
		}
	}
	var out struct {
		Redriven int `json:"redriven"`
	}
	_, err := c.do(ctx, http.MethodPost, "/v1/routes/"+url.PathEscape(route)+"/dlq/redrive", "application/json", body, &out)
	return out.Redriven, err
}
