package sdk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// ReplayPosition is a place in a bus's archive: a time, or an archive
// sequence number (1 is the first event ever archived). Set one.
type ReplayPosition struct {
	Time     *time.Time `json:"time,omitempty"`
	Sequence uint64     `json:"sequence,omitempty"`
}

// ReplayRequest asks for a replay of a route's bus archive into the route.
type ReplayRequest struct {
	From ReplayPosition `json:"from"`
	// Until is the last time or sequence replayed; nil: the last event
	// archived when the replay starts.
	Until *ReplayPosition `json:"until,omitempty"`
	// Rate caps the events stored per second, minute or hour ("500/s");
	// empty means the bus's default (1000/s).
	Rate string `json:"rate,omitempty"`
}

// Replay is a replay and its progress. State is running, done, cancelled,
// failed or interrupted.
type Replay struct {
	ID    string `json:"id"`
	Route string `json:"route"`
	Bus   string `json:"bus"`
	ReplayRequest
	State     string     `json:"state"`
	Scanned   int64      `json:"scanned"`
	Matched   int64      `json:"matched"`
	Delivered int64      `json:"delivered"`
	Position  uint64     `json:"position"`
	Error     string     `json:"error,omitempty"`
	Created   time.Time  `json:"created"`
	Updated   time.Time  `json:"updated"`
	Finished  *time.Time `json:"finished,omitempty"`
}

func replaysPath(route string) string { return "/v1/routes/" + url.PathEscape(route) + "/replays" }

// StartReplay replays the archive of the route's bus into the route.
func (c *Client) StartReplay(ctx context.Context, route string, req ReplayRequest) (Replay, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return Replay{}, err
	}
	var out Replay
	_, err = c.do(ctx, http.MethodPost, replaysPath(route), "application/json", body, &out)
	return out, err
}

// GetReplay returns a replay's progress.
func (c *Client) GetReplay(ctx context.Context, route, id string) (Replay, error) {
	var out Replay
	_, err := c.do(ctx, http.MethodGet, replaysPath(route)+"/"+url.PathEscape(id), "", nil, &out)
	return out, err
}

// ListReplays lists the route's replays, newest first.
func (c *Client) ListReplays(ctx context.Context, route string) ([]Replay, error) {
	var out struct {
		Replays []Replay `json:"replays"`
	}
	_, err := c.do(ctx, http.MethodGet, replaysPath(route), "", nil, &out)
	return out.Replays, err
}

// CancelReplay stops a replay and returns it as it ended.
func (c *Client) CancelReplay(ctx context.Context, route, id string) (Replay, error) {
	var out Replay
	_, err := c.do(ctx, http.MethodDelete, replaysPath(route)+"/"+url.PathEscape(id), "", nil, &out)
	return out, err
}
