// Package oidc verifies JWTs from an OpenID Connect issuer for package
// auth. It lives apart so that auth, which the router's bus resource
// imports, stays free of go-oidc and its dependencies.
package oidc

import (
	"cmp"
	"context"
	"fmt"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/eventbus-go/eventbus/auth"
)

// Verifier implements auth.TokenVerifier.
var _ auth.TokenVerifier = (*Verifier)(nil)

// Verifier verifies JWTs from one OpenID Connect issuer: signature (against the
// issuer's JWKS, fetched and cached by go-oidc and fetched again when a
// token names an unknown key), issuer, audience and expiry.
type Verifier struct {
	verifier    *oidc.IDTokenVerifier
	groupsClaim string
}

// New reads the issuer's discovery document. ctx bounds the read and, as
// go-oidc requires, every later JWKS fetch: pass one that lives as long as
// the verifier.
func New(ctx context.Context, cfg auth.OIDCConfig) (*Verifier, error) {
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("auth.oidc: reading the discovery document of issuer %s: %w", cfg.Issuer, err)
	}
	return &Verifier{
		verifier:    provider.Verifier(&oidc.Config{ClientID: cfg.Audience}),
		groupsClaim: cmp.Or(cfg.GroupsClaim, auth.DefaultGroupsClaim),
	}, nil
}

// Verify checks a raw JWT and returns its subject with the groups of its
// groups claim.
func (o *Verifier) Verify(ctx context.Context, raw string) (*auth.Identity, error) {
	tok, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, err
	}
	id := &auth.Identity{Kind: "token", Name: tok.Subject}
	switch g := claims[o.groupsClaim].(type) {
	case string:
		id.Groups = []string{g}
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	}
	return id, nil
}
