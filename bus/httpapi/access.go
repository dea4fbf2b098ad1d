package httpapi

import (
	"cmp"
	"net/http"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus/metrics"
	"github.com/eventbus-go/eventbus/router"
)

// authenticated runs h with the caller's identity in the request context,
// or answers 401 when the request carries no acceptable credentials. With
// authentication off it is h itself.
func (b *Server) authenticated(h http.HandlerFunc) http.HandlerFunc {
	if !b.Authenticates() {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := b.identify(r)
		if err != nil {
			writeError(w, err)
			return
		}
		h(w, r.WithContext(auth.NewContext(r.Context(), id)))
	}
}

// identify returns the caller of r: the holder of its bearer credential,
// or, with auth.client_certs and no bearer credential, the subject of the
// client certificate the TLS handshake verified.
func (b *Server) identify(r *http.Request) (*auth.Identity, error) {
	if subject, ok := ClientCertSubject(r); ok {
		return b.Identify(r.Context(), r.Header.Get("Authorization"), &subject)
	}
	return b.Identify(r.Context(), r.Header.Get("Authorization"), nil)
}

// metricsFilter keeps, with authentication on, the metrics of buses the
// caller of r may read (auth.Read); series of no bus (backends, the
// process) are shown to every authenticated caller.
func (b *Server) metricsFilter(r *http.Request) metrics.Filter {
	if !b.Authenticates() {
		return nil
	}
	return func(bus string) bool { return b.Allow(r.Context(), bus, auth.Read) == nil }
}

// busOfRoute names the bus of a route, "" when it is gone.
func (b *Server) busOfRoute(route string) string {
	r, ok := b.Route(route)
	if !ok {
		return ""
	}
	return cmp.Or(r.Bus, router.DefaultBus)
}
