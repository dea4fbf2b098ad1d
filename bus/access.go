package bus

import (
	"cmp"
	"context"
	"crypto/x509/pkix"
	"fmt"
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

// Authenticates reports whether the bus requires credentials: its config
// has an auth section.
func (b *Bus) Authenticates() bool { return b.access != nil }

// Identify returns the caller holding authorization (the value of an
// Authorization header), or, with auth.client_certs and no authorization,
// the subject of the client certificate the TLS handshake verified (cert,
// nil without one). With authentication off it returns nil and no error.
func (b *Bus) Identify(ctx context.Context, authorization string, cert *pkix.Name) (*auth.Identity, error) {
	if b.access == nil {
		return nil, nil
	}
	if b.access.clientCerts && authorization == "" && cert != nil && cert.CommonName != "" {
		return &auth.Identity{Kind: "certificate", Name: cert.CommonName, Groups: cert.OrganizationalUnit}, nil
	}
	return b.access.authn.Authenticate(ctx, authorization)
}

// Allow decides whether the caller in ctx may take action on bus.
func (b *Bus) Allow(ctx context.Context, bus string, action auth.Action) error {
	if b.access == nil {
		return nil
	}
	return b.access.policy.Allow(auth.FromContext(ctx), bus, b.aclOf(bus), action)
}

// AllowOnRoute decides whether the caller in ctx may take action on the
// bus of route name. A route that does not exist is left for the caller to
// report.
func (b *Bus) AllowOnRoute(ctx context.Context, name string, action auth.Action) error {
	if b.access == nil {
		return nil
	}
	r, ok := b.Route(name)
	if !ok {
		return nil
	}
	return b.Allow(ctx, cmp.Or(r.Bus, router.DefaultBus), action)
}

// AllowAdmin lets only auth.admins take action on object.
func (b *Bus) AllowAdmin(ctx context.Context, action, object string) error {
	if b.access == nil {
		return nil
	}
	return b.access.policy.AllowAdmin(auth.FromContext(ctx), action, object)
}

// AllowPutBus decides whether the caller in ctx may save bus: creating a bus and
// changing its ACL are for admins (a bus's managers must not widen their
// own rights); changing the rest needs manage on the bus.
func (b *Bus) AllowPutBus(ctx context.Context, bus router.Bus) error {
	if b.access == nil {
		return nil
	}
	old, exists := b.BusNamed(bus.Name)
	if !exists {
		return b.AllowAdmin(ctx, "create", fmt.Sprintf("bus %q", bus.Name))
	}
	if !reflect.DeepEqual(old.ACL, bus.ACL) {
		return b.AllowAdmin(ctx, "change the acl of", fmt.Sprintf("bus %q", bus.Name))
	}
	return b.Allow(ctx, bus.Name, auth.Manage)
}

// Readable keeps the items on buses the caller in ctx may read.
func Readable[T any](ctx context.Context, b *Bus, items []T, busOf func(T) string) []T {
	if b.access == nil {
		return items
	}
	out := items[:0:0]
	for _, it := range items {
		if b.Allow(ctx, cmp.Or(busOf(it), router.DefaultBus), auth.Read) == nil {
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
