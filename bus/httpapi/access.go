package httpapi

import (
	"net/http"

	"github.com/eventbus-go/eventbus/auth"
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
