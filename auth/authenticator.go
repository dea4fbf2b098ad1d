package auth

import (
	"context"
	"strings"
	"sync/atomic"
)

// Unauthenticated is a request without acceptable credentials.
type Unauthenticated struct {
	// Code is the RFC 6750 error of a credential that was sent but is not
	// acceptable: "invalid_request" or "invalid_token"; empty when none
	// was sent.
	Code   string
	Reason string
}

func (e *Unauthenticated) Error() string { return e.Reason }

// TokenVerifier checks a JWT and returns its caller (package auth/oidc).
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*Identity, error)
}

// Authenticator checks bearer credentials: API keys on its Keyring, then
// JWTs with its token verifier (if any). It is safe for concurrent use.
type Authenticator struct {
	keys atomic.Pointer[Keyring]
	oidc TokenVerifier
}

// NewAuthenticator returns an authenticator with no keys; oidc may be nil.
func NewAuthenticator(oidc TokenVerifier) *Authenticator {
	a := &Authenticator{oidc: oidc}
	a.keys.Store(NewKeyring(nil))
	return a
}

// SetKeys replaces the keys the authenticator accepts; a key left out is
// refused from the next request on.
func (a *Authenticator) SetKeys(keys []Key) { a.keys.Store(NewKeyring(keys)) }

// Authenticate returns the identity of the caller whose Authorization
// header is authorization, or an *Unauthenticated error.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (*Identity, error) {
	if authorization == "" {
		return nil, &Unauthenticated{Reason: "no credentials: send Authorization: Bearer <API key or token>"}
	}
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, &Unauthenticated{Code: "invalid_request", Reason: "the Authorization header is not Bearer <API key or token>"}
	}
	if id, ok := a.keys.Load().Lookup(token); ok {
		return id, nil
	}
	if a.oidc != nil && strings.Count(token, ".") == 2 && !strings.HasPrefix(token, KeyPrefix) {
		id, err := a.oidc.Verify(ctx, token)
		if err != nil {
			return nil, &Unauthenticated{Code: "invalid_token", Reason: "the bearer token is not a valid JWT of this bus's OIDC issuer: " + err.Error()}
		}
		return id, nil
	}
	return nil, &Unauthenticated{Code: "invalid_token", Reason: "the bearer token is not a known API key: it is wrong or was revoked"}
}
