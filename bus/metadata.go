package bus

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/internal/cesource"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// DeliverAfterExtension holds an event back until a time (RFC 3339) or for a
// duration ("30s") after it is accepted.
const DeliverAfterExtension = "deliverafter"

// routeStamp adds to an event's stamp what one route needs: its ordering
// key and its due time.
func routeStamp(e *event.Event, s adapters.Stamp, r *router.Route) (adapters.Stamp, error) {
	d := r.Delivery
	_, hasDeliverAfter := e.Extensions()[DeliverAfterExtension]
	if d.OrderingKey == "" && d.Delay == 0 && !hasDeliverAfter {
		return s, nil
	}
	if d.OrderingKey != "" {
		key, err := orderingKey(e, d.OrderingKey)
		if err != nil {
			return adapters.Stamp{}, err
		}
		s.OrderingKey = key
	}
	now := time.Now()
	due := now.Add(time.Duration(d.Delay))
	if hasDeliverAfter {
		at, err := deliverAfter(e)
		if err != nil {
			return adapters.Stamp{}, err
		}
		if at.After(due) {
			due = at
		}
	}
	if due.After(now) {
		s.DeliverAt = due
	}
	return s, nil
}

// deliverAfter reads the deliverafter extension.
func deliverAfter(e *event.Event) (time.Time, error) {
	v, err := types.ToString(e.Extensions()[DeliverAfterExtension])
	if err != nil {
		if t, terr := types.ToTime(e.Extensions()[DeliverAfterExtension]); terr == nil {
			return t, nil
		}
		return time.Time{}, &spec.FieldError{Path: DeliverAfterExtension, Message: "must be an RFC 3339 time or a duration such as \"30s\""}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return time.Now().Add(d), nil
	}
	return time.Time{}, &spec.FieldError{Path: DeliverAfterExtension, Message: fmt.Sprintf("%q is neither an RFC 3339 time nor a duration such as \"30s\"", v)}
}

// orderingKey reads the route's ordering key from the event: an attribute
// or extension by name, or a "data." path into JSON data. An event without
// the key is delivered unordered.
func orderingKey(e *event.Event, path string) (string, error) {
	dataPath, isData := strings.CutPrefix(path, "data.")
	if !isData {
		if v, ok := e.Extensions()[path]; ok {
			return types.Format(v)
		}
		switch path {
		case "id":
			return e.ID(), nil
		case "source":
			return cesource.Of(e), nil
		case "type":
			return e.Type(), nil
		case "subject":
			return e.Subject(), nil
		}
		return "", nil
	}
	var doc any
	if err := json.Unmarshal(e.Data(), &doc); err != nil {
		return "", nil // not JSON: no key
	}
	for _, field := range strings.Split(dataPath, ".") {
		obj, ok := doc.(map[string]any)
		if !ok {
			return "", nil
		}
		doc = obj[field]
	}
	switch v := doc.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("ordering key %s: %w", path, err)
		}
		return string(b), nil
	}
}
