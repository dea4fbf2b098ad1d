package bus

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// DefaultPreviousSecretTTL is how long a route's signing secret keeps
// signing after it was replaced, unless the rotation says otherwise: a day
// for receivers to move to the new one.
const DefaultPreviousSecretTTL = 24 * time.Hour

// settleSecrets completes the secrets of r, a route being written, from
// old, the route it replaces (nil when new): write-only fields that r
// leaves out keep their stored values; a new signing secret keeps the one
// before it signing for DefaultPreviousSecretTTL; a signed route without a
// secret gets one. It returns the secret it generated, "" if none, and
// refuses an auth whose credentials are missing. r's target is copied, not
// changed in place.
func settleSecrets(r *router.Route, old *router.Route, now time.Time) (generated string, err error) {
	h := r.Target.HTTP
	if h == nil {
		return "", nil
	}
	hc := *h
	var oldHTTP *router.HTTPTarget
	if old != nil {
		oldHTTP = old.Target.HTTP
	}
	changed := hc.KeepSecrets(oldHTTP)
	s := hc.Signing // a copy of its own, made by KeepSecrets
	if changed && oldHTTP != nil && oldHTTP.Signing != nil && oldHTTP.Signing.Secret != "" {
		s.PreviousSecret, s.PreviousExpires = oldHTTP.Signing.Secret, now.Add(DefaultPreviousSecretTTL)
	}
	expirePrevious(s, now)
	if s.Secret == "" && !s.Disabled {
		generated = router.NewSigningSecret()
		s.Secret = generated
	}
	r.Target.HTTP = &hc
	return generated, hc.ValidateCredentials()
}

// expirePrevious forgets a previous secret whose overlap has ended.
func expirePrevious(s *router.Signing, now time.Time) {
	if !s.PreviousExpires.After(now) {
		s.PreviousSecret, s.PreviousExpires = "", time.Time{}
	}
}

// shown is a route as the API answers with it: secrets masked, except a
// signing secret the bus generated in this very request, shown this once.
func shown(r router.Route, generated string) router.Route {
	v := r.Redacted(time.Now())
	if generated != "" {
		v.Target.HTTP.Signing.Secret = generated
	}
	return v
}

// configSecrets reads the signing secret of a config route from the
// environment variable it names, and generates one for a signed route that
// gives none; no receiver can know a generated one, so that is logged.
func (b *Bus) configSecrets(r *router.Route) error {
	h := r.Target.HTTP
	if h == nil {
		return nil
	}
	if s := h.Signing; s != nil && s.SecretEnv != "" {
		v := os.Getenv(s.SecretEnv)
		if v == "" {
			return &spec.FieldError{Path: "target.http.signing.secret_env", Message: fmt.Sprintf("environment variable %s is not set or empty", s.SecretEnv)}
		}
		if _, err := router.SigningKey(v); err != nil {
			return &spec.FieldError{Path: "target.http.signing.secret_env", Message: fmt.Sprintf("environment variable %s %v", s.SecretEnv, err)}
		}
		hc, sc := *h, *s
		sc.Secret = v
		hc.Signing = &sc
		r.Target.HTTP = &hc
	}
	generated, err := settleSecrets(r, nil, time.Now())
	if generated != "" {
		b.log.Warn("route signs its deliveries with a secret generated at start, which no receiver can know: set target.http.signing.secret_env, or signing.disabled", "route", r.Name)
	}
	return err
}

// RotateSigningSecret gives an API route a new signing secret: secret, or
// one the bus generates when it is "". The secret it replaces keeps signing
// for previousValidFor (DefaultPreviousSecretTTL when nil; zero stops it at
// once). It returns the route as shown, with a generated secret in
// Target.HTTP.Signing.Secret, the only time it is shown.
func (b *Bus) RotateSigningSecret(ctx context.Context, name, secret string, previousValidFor *time.Duration) (router.Route, error) {
	if secret != "" {
		if _, err := router.SigningKey(secret); err != nil {
			return router.Route{}, &spec.FieldError{Path: "secret", Message: err.Error()}
		}
	}
	ttl := DefaultPreviousSecretTTL
	if previousValidFor != nil {
		ttl = *previousValidFor
	}
	if ttl < 0 {
		return router.Route{}, &spec.FieldError{Path: "previous_valid_for", Message: "must not be negative"}
	}
	generated := ""
	if secret == "" {
		generated = router.NewSigningSecret()
		secret = generated
	}
	saved, err := b.changeSigning(ctx, name, func(s *router.Signing, now time.Time) {
		s.PreviousSecret, s.PreviousExpires = "", time.Time{}
		if s.Secret != "" {
			s.PreviousSecret, s.PreviousExpires = s.Secret, now.Add(ttl)
		}
		s.Secret = secret
	})
	if err != nil {
		return router.Route{}, err
	}
	return shown(saved, generated), nil
}

// ExpirePreviousSecret stops the previous signing secret of an API route
// from signing now, before its overlap would end: once every receiver uses
// the new one, or when the old one leaked.
func (b *Bus) ExpirePreviousSecret(ctx context.Context, name string) (router.Route, error) {
	saved, err := b.changeSigning(ctx, name, func(s *router.Signing, _ time.Time) {
		s.PreviousSecret, s.PreviousExpires = "", time.Time{}
	})
	if err != nil {
		return router.Route{}, err
	}
	return shown(saved, ""), nil
}

// changeSigning applies change to the signing settings of a signed API
// route with an HTTP target, and saves the route.
func (b *Bus) changeSigning(ctx context.Context, name string, change func(s *router.Signing, now time.Time)) (router.Route, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lr, ok := b.routes[name]
	switch {
	case !ok:
		return router.Route{}, errcode.Errorf(errcode.NotFound, "route %q does not exist", name)
	case lr.route.Origin == router.OriginConfig:
		return router.Route{}, errConfigOwned("route", name)
	case lr.route.Target.HTTP == nil:
		return router.Route{}, errcode.Errorf(errcode.FailedPrecondition, "route %q has no http target: only HTTP deliveries are signed", name)
	case lr.route.Target.HTTP.Signing != nil && lr.route.Target.HTTP.Signing.Disabled:
		return router.Route{}, errcode.Errorf(errcode.FailedPrecondition, "route %q has signing disabled: enable it first (target.http.signing.disabled: false)", name)
	}
	r := lr.route
	h := *r.Target.HTTP
	var s router.Signing // none yet: a route stored before signing existed
	if h.Signing != nil {
		s = *h.Signing
	}
	now := time.Now()
	change(&s, now)
	expirePrevious(&s, now)
	h.Signing = &s
	r.Target.HTTP = &h
	expected := r.Version
	persist := func(r router.Route) (int64, error) {
		return b.persist(ctx, store.KindRoute, r.Name, r, expected)
	}
	saved, _, err := b.applyRoute(ctx, r, persist)
	if err == nil {
		b.log.Info("route's signing secrets changed", "route", name, "secret", router.SecretHint(s.Secret), "previous_expires", s.PreviousExpires)
	}
	return saved, err
}
