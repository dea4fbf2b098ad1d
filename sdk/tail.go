package sdk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// maxTailLine bounds one line of a tail's stream: an event is bounded by
// the bus's max_body_bytes, 1 MiB unless configured higher.
const maxTailLine = 16 << 20

// TailMessage is one message of a live tail: an event the bus stored, or
// the count of events dropped so far because the reader was behind.
type TailMessage struct {
	// Event is set for a stored event.
	Event *TailedEvent
	// Dropped, when Event is nil, is how many events the bus dropped for
	// this tail so far.
	Dropped int64
}

// TailedEvent is an event the bus stored, with the routes that stored it
// (empty when it matched none).
type TailedEvent struct {
	Event      event.Event `json:"event"`
	Routes     []string    `json:"routes"`
	AcceptedAt time.Time   `json:"accepted_at"`
}

// Tail follows the events the bus stores on bus (empty: the default bus)
// from now on, calling handle for each message, until ctx ends (it then
// returns nil), handle returns an error (returned), or the bus ends the
// stream. It needs read on the bus.
func (c *Client) Tail(ctx context.Context, bus string, handle func(TailMessage) error) error {
	if bus == "" {
		bus = "default"
	}
	u := c.base.JoinPath("/v1/buses/" + url.PathEscape(bus) + "/tail")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	if c.authorization != "" {
		req.Header.Set("Authorization", c.authorization)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("sdk: tail %s: %w", bus, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return errorFrom(resp.StatusCode, raw, nil)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxTailLine)
	var kind, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		case line == "":
			msg, ok, err := tailMessage(kind, data)
			kind, data = "", ""
			if err != nil {
				return err
			}
			if ok {
				if err := handle(msg); err != nil {
					return err
				}
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("sdk: tail %s: %w", bus, err)
	}
	return fmt.Errorf("sdk: tail %s: the bus ended the stream (shutting down?)", bus)
}

// tailMessage decodes one Server-Sent Event of a tail; ok is false for
// the messages a caller need not see (ready, comments).
func tailMessage(kind, data string) (TailMessage, bool, error) {
	switch kind {
	case "event":
		var te TailedEvent
		if err := json.Unmarshal([]byte(data), &te); err != nil {
			return TailMessage{}, false, fmt.Errorf("sdk: tail: decoding an event: %w", err)
		}
		return TailMessage{Event: &te}, true, nil
	case "dropped":
		var d struct {
			Dropped int64 `json:"dropped"`
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return TailMessage{}, false, fmt.Errorf("sdk: tail: decoding a drop count: %w", err)
		}
		return TailMessage{Dropped: d.Dropped}, true, nil
	}
	return TailMessage{}, false, nil
}
