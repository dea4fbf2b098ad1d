package sdk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Schedule emits Event to Bus on Cron, or once At a time
// (docs/schedules.md).
type Schedule struct {
	Name string `json:"name"`
	Bus  string `json:"bus,omitempty"`
	// Cron is five fields or a descriptor (@hourly, @every 10m); At an
	// RFC 3339 time, or one without offset in TimeZone. One of the two.
	Cron     string        `json:"cron,omitempty"`
	At       string        `json:"at,omitempty"`
	TimeZone string        `json:"time_zone,omitempty"`
	Event    EventTemplate `json:"event"`
	// Set by the bus.
	CreatedAt time.Time  `json:"created_at,omitzero"`
	Version   int64      `json:"version,omitempty"`
	LastFired *time.Time `json:"last_fired,omitempty"`
	Next      *time.Time `json:"next,omitempty"`
}

// EventTemplate is the CloudEvent a schedule emits; the bus sets its id,
// time and the extension schedule.
type EventTemplate struct {
	Type            string            `json:"type"`
	Source          string            `json:"source,omitempty"`
	Subject         string            `json:"subject,omitempty"`
	DataContentType string            `json:"datacontenttype,omitempty"`
	Data            json.RawMessage   `json:"data,omitempty"`
	Extensions      map[string]string `json:"extensions,omitempty"`
}

// ListSchedules returns the schedules the caller may read, sorted by name.
func (c *Client) ListSchedules(ctx context.Context) ([]Schedule, error) {
	var out struct {
		Schedules []Schedule `json:"schedules"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/schedules", "", nil, &out)
	return out.Schedules, err
}

// GetSchedule returns one schedule; a missing one is an *Error with
// Status 404.
func (c *Client) GetSchedule(ctx context.Context, name string) (Schedule, error) {
	var out Schedule
	_, err := c.do(ctx, http.MethodGet, "/v1/schedules/"+url.PathEscape(name), "", nil, &out)
	return out, err
}

// PutSchedule creates or replaces the schedule s.Name. With s.Version set,
// the write succeeds only if the stored schedule still has that version.
func (c *Client) PutSchedule(ctx context.Context, s Schedule) (Schedule, error) {
	s.LastFired, s.Next = nil, nil
	body, err := json.Marshal(s)
	if err != nil {
		return Schedule{}, err
	}
	var out Schedule
	_, err = c.do(ctx, http.MethodPut, "/v1/schedules/"+url.PathEscape(s.Name), "application/json", body, &out)
	return out, err
}

// DeleteSchedule deletes a schedule.
func (c *Client) DeleteSchedule(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/schedules/"+url.PathEscape(name), "", nil, nil)
	return err
}
