// Package cesource formats a CloudEvent's source exactly as the SDK does
// (event.Event.Source, types.URIRef.String), but returns a relative
// reference without query or fragment, such as "/orders/api", the way it
// is held rather than as a new string: that is the shape of most sources,
// and the SDK builds a new string each time it is asked, which the bus
// does several times for every event it stores and delivers.
package cesource

import (
	"net/url"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Of returns e's source, as e.Source() does.
func Of(e *event.Event) string {
	if c, ok := e.Context.(*event.EventContextV1); ok {
		return Format(&c.Source)
	}
	return e.Source()
}

// Format returns u formatted, as u.String() does.
func Format(u *types.URIRef) string {
	if s, ok := relativePath(&u.URL); ok {
		return s
	}
	return u.String()
}

// relativePath returns what u.String() returns for a reference that is
// a path alone and can be written as it is: url.URL.String writes the
// escaped path and nothing else, into a new string.
func relativePath(u *url.URL) (string, bool) {
	if u.Scheme != "" || u.Opaque != "" || u.Host != "" || u.User != nil ||
		u.ForceQuery || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	p := u.EscapedPath() // u.Path itself when nothing needs escaping
	if segment, _, _ := strings.Cut(p, "/"); strings.Contains(segment, ":") {
		return "", false // String writes "./" before it
	}
	return p, true
}
