package bus

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"reflect"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/auth/oidc"
	"github.com/eventbus-go/eventbus/router"
)

// access is what authentication and authorization need; a bus without an
// auth section in its config has none, and lets every request in.
type access struct {
	authn       *auth.Authenticator
	policy      auth.Policy
	configKeys  []auth.Key
	clientCerts bool // a verified client certificate identifies its caller
}

// newAccess reads the config's keys from the environment and the OIDC
// issuer's discovery document. ctx must live as long as the bus: go-oidc
// fetches the issuer's keys with it.
func newAccess(ctx context.Context, cfg *auth.Config) (*access, error) {
	keys, err := cfg.ConfigKeys(os.Getenv)
	if err != nil {
		return nil, err
	}
	var verifier auth.TokenVerifier
	if cfg.OIDC != nil {
		v, err := oidc.New(ctx, *cfg.OIDC)
		if err != nil {
			return nil, err
		}
		verifier = v
	}
	a := &access{authn: auth.NewAuthenticator(verifier), policy: auth.Policy{Admins: cfg.Admins}, configKeys: keys, clientCerts: cfg.ClientCerts}
	a.authn.SetKeys(keys)
	return a, nil
}

// authenticated runs h with the caller's identity in the request context,
// or answers 401 when the request carries no acceptable credentials. With
// authentication off it is h itself.
func (b *Bus) authenticated(h http.HandlerFunc) http.HandlerFunc {
	if b.access == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := b.access.identify(r)
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
func (a *access) identify(r *http.Request) (*auth.Identity, error) {
	authorization := r.Header.Get("Authorization")
	if a.clientCerts && authorization == "" {
		if subject, ok := ClientCertSubject(r); ok && subject.CommonName != "" {
			return &auth.Identity{Kind: "certificate", Name: subject.CommonName, Groups: subject.OrganizationalUnit}, nil
		}
	}
	return a.authn.Authenticate(r.Context(), authorization)
}

// allow decides whether the caller may take action on bus.
func (b *Bus) allow(ctx context.Context, bus string, action auth.Action) error {
	if b.access == nil {
		return nil
	}
	return b.access.policy.Allow(auth.FromContext(ctx), bus, b.aclOf(bus), action)
}

// allowOnRoute decides whether the caller may take action on the bus of
// route name. A route that does not exist is left for the handler to
// report.
func (b *Bus) allowOnRoute(ctx context.Context, name string, action auth.Action) error {
	if b.access == nil {
		return nil
	}
	r, ok := b.Route(name)
	if !ok {
		return nil
	}
	return b.allow(ctx, cmp.Or(r.Bus, router.DefaultBus), action)
}

// allowAdmin lets only auth.admins take action on object.
func (b *Bus) allowAdmin(ctx context.Context, action, object string) error {
	if b.access == nil {
		return nil
	}
	return b.access.policy.AllowAdmin(auth.FromContext(ctx), action, object)
}

// allowPutBus decides whether the caller may save bus: creating a bus and
// changing its ACL are for admins (a bus's managers must not widen their
// own rights); changing the rest needs manage on the bus.
func (b *Bus) allowPutBus(ctx context.Context, bus router.Bus) error {
	if b.access == nil {
		return nil
	}
	old, exists := b.BusNamed(bus.Name)
	if !exists {
		return b.allowAdmin(ctx, "create", fmt.Sprintf("bus %q", bus.Name))
	}
	if !reflect.DeepEqual(old.ACL, bus.ACL) {
		return b.allowAdmin(ctx, "change the acl of", fmt.Sprintf("bus %q", bus.Name))
	}
	return b.allow(ctx, bus.Name, auth.Manage)
}

// readable keeps the items on buses the caller may read.
func readable[T any](ctx context.Context, b *Bus, items []T, busOf func(T) string) []T {
	if b.access == nil {
		return items
	}
	out := items[:0:0]
	for _, it := range items {
		if b.allow(ctx, cmp.Or(busOf(it), router.DefaultBus), auth.Read) == nil {
			out = append(out, it)
		}
	}
	return out
}

// aclOf returns the ACL of a bus, from the state ingress reads.
func (b *Bus) aclOf(bus string) *auth.ACL {
	if br := b.state.Load().buses[bus]; br != nil {
		return br.acl
	}
	return nil
}

// setStoredKeys makes the authenticator accept the config's keys and stored,
// replacing what it accepted before. b.mu must be held.
func (b *Bus) setStoredKeys(stored []auth.Key) {
	b.storedKeys = stored
	if b.access != nil {
		b.access.authn.SetKeys(append(append([]auth.Key(nil), b.access.configKeys...), stored...))
	}
}
