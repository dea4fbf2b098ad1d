package router

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/eventbus-go/eventbus/spec"
)

// SecretPrefix starts every signing secret: "whsec_" and the key's bytes in
// standard base64, as the Standard Webhooks specification writes them.
const SecretPrefix = "whsec_"

// Bounds of a signing key, in bytes, from the Standard Webhooks specification.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// generatedSecretBytes is the size of the keys the bus makes.
const generatedSecretBytes = 32

// NewSigningSecret returns a fresh random signing secret, "whsec_…".
func NewSigningSecret() string {
	key := make([]byte, generatedSecretBytes)
	_, _ = rand.Read(key) // never fails (crypto/rand's contract)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Signing is how a route signs its HTTP deliveries with the Standard
// Webhooks headers webhook-id, webhook-timestamp and webhook-signature. A
// route signs unless Disabled; nil means signed, with a secret the bus
// generates.
//
// Secret is write-only: an API write that leaves it out keeps the stored
// one, and the bus never shows it again after the answer to the request in
// which it generated it. Answers carry SecretHint instead.
type Signing struct {
	// Disabled turns signing off: deliveries carry no webhook-* headers.
	Disabled bool `json:"disabled,omitempty"`
	// Secret is "whsec_" + base64 of 24-64 random bytes. Write-only.
	Secret string `json:"secret,omitempty"`
	// SecretEnv, in the config file only, names the environment variable
	// that holds Secret.
	SecretEnv string `json:"secret_env,omitempty"`
	// PreviousSecret is the secret before the last change; deliveries are
	// signed with it too until PreviousExpires, so receivers can move to the
	// new one without a gap. Set by the bus; ignored in writes.
	PreviousSecret  string    `json:"previous_secret,omitempty"`
	PreviousExpires time.Time `json:"previous_expires,omitzero"`
	// SecretHint and PreviousSecretHint say which secrets sign, such as
	// "whsec_…x3Zq": read-only, in answers only.
	SecretHint         string `json:"secret_hint,omitempty"`
	PreviousSecretHint string `json:"previous_secret_hint,omitempty"`
}

// TargetAuth is how the bus authenticates to an HTTP target, as an
// EventBridge connection does. Set one field. Passwords, key values and
// client secrets are write-only: answers leave them out, and a write that
// leaves one out keeps the stored one.
type TargetAuth struct {
	Basic  *BasicAuth  `json:"basic,omitempty"`
	APIKey *APIKeyAuth `json:"api_key,omitempty"`
	OAuth2 *OAuth2Auth `json:"oauth2,omitempty"`
}

// BasicAuth sends an Authorization: Basic header.
type BasicAuth struct {
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
}

// APIKeyAuth sends one header with a fixed value, such as X-Api-Key.
type APIKeyAuth struct {
	Header string `json:"header"`
	Value  string `json:"value,omitempty"`
}

// OAuth2Auth sends a bearer token that the bus gets from TokenURL with the
// OAuth 2.0 client credentials grant, keeps until it expires, and fetches
// again then.
type OAuth2Auth struct {
	TokenURL     string   `json:"token_url"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
}

// SigningKey returns the HMAC key a signing secret stands for.
func SigningKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("must start with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("must be %q followed by standard base64", SecretPrefix)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("must hold %d to %d bytes after %q, not %d", MinSecretBytes, MaxSecretBytes, SecretPrefix, len(key))
	}
	return key, nil
}

// SecretHint shows enough of a secret to tell it from another, and nothing
// that helps guess it: the prefix and its last four characters.
func SecretHint(secret string) string {
	if len(secret) < len(SecretPrefix)+12 {
		return SecretPrefix + "…"
	}
	return SecretPrefix + "…" + secret[len(secret)-4:]
}

// Redacted returns the route as the API shows it: every secret left out,
// signing secrets replaced by their hints. Signing secrets whose overlap
// ended by now are not shown at all.
func (r Route) Redacted(now time.Time) Route {
	h := r.Target.HTTP
	if h == nil {
		return r
	}
	hc := *h
	if s := hc.Signing; s != nil {
		sc := Signing{Disabled: s.Disabled, SecretEnv: s.SecretEnv}
		if s.Secret != "" {
			sc.SecretHint = SecretHint(s.Secret)
		}
		if s.PreviousSecret != "" && now.Before(s.PreviousExpires) {
			sc.PreviousSecretHint = SecretHint(s.PreviousSecret)
			sc.PreviousExpires = s.PreviousExpires
		}
		hc.Signing = &sc
	}
	if a := hc.Auth; a != nil {
		ac := TargetAuth{}
		if a.Basic != nil {
			ac.Basic = &BasicAuth{Username: a.Basic.Username}
		}
		if a.APIKey != nil {
			ac.APIKey = &APIKeyAuth{Header: a.APIKey.Header}
		}
		if a.OAuth2 != nil {
			o := *a.OAuth2
			o.ClientSecret = ""
			ac.OAuth2 = &o
		}
		hc.Auth = &ac
	}
	r.Target.HTTP = &hc
	return r
}

// validate checks what a write may carry; the credentials themselves are
// checked by ValidateCredentials once stored ones are merged in.
func (s *Signing) validate() error {
	if s.Secret == "" {
		return nil
	}
	if _, err := SigningKey(s.Secret); err != nil {
		// The message never repeats the secret.
		return &spec.FieldError{Path: "target.http.signing.secret", Message: err.Error()}
	}
	return nil
}

func (a *TargetAuth) validate() error {
	set := 0
	for _, isSet := range []bool{a.Basic != nil, a.APIKey != nil, a.OAuth2 != nil} {
		if isSet {
			set++
		}
	}
	const p = "target.http.auth"
	switch {
	case set != 1:
		return &spec.FieldError{Path: p, Message: "set exactly one of basic, api_key and oauth2"}
	case a.Basic != nil:
		if a.Basic.Username == "" || strings.Contains(a.Basic.Username, ":") {
			return &spec.FieldError{Path: p + ".basic.username", Message: "is required and may not contain ':'"}
		}
	case a.APIKey != nil:
		if a.APIKey.Header == "" || !validHeaderName(a.APIKey.Header) {
			return &spec.FieldError{Path: p + ".api_key.header", Message: fmt.Sprintf("%q is not an HTTP header name such as X-Api-Key", a.APIKey.Header)}
		}
		if strings.ContainsAny(a.APIKey.Value, "\r\n") {
			return &spec.FieldError{Path: p + ".api_key.value", Message: "may not contain a line break"}
		}
	case a.OAuth2 != nil:
		o := a.OAuth2
		if u, err := url.Parse(o.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &spec.FieldError{Path: p + ".oauth2.token_url", Message: fmt.Sprintf("%q is not an absolute http(s) URL", o.TokenURL)}
		}
		if o.ClientID == "" {
			return &spec.FieldError{Path: p + ".oauth2.client_id", Message: "is required"}
		}
	}
	return nil
}

// ValidateCredentials checks that every credential an HTTP target's auth
// needs is there. The API calls it after keeping the stored ones for the
// write-only fields a write left out.
func (t *HTTPTarget) ValidateCredentials() error {
	a := t.Auth
	if a == nil {
		return nil
	}
	const missing = "is required (write-only: send it when you add this auth; later writes may leave it out to keep it)"
	switch {
	case a.Basic != nil && a.Basic.Password == "":
		return &spec.FieldError{Path: "target.http.auth.basic.password", Message: missing}
	case a.APIKey != nil && a.APIKey.Value == "":
		return &spec.FieldError{Path: "target.http.auth.api_key.value", Message: missing}
	case a.OAuth2 != nil && a.OAuth2.ClientSecret == "":
		return &spec.FieldError{Path: "target.http.auth.oauth2.client_secret", Message: missing}
	}
	return nil
}

// KeepSecrets fills the write-only fields that t, an HTTP target being
// written, leaves out with those of old, the stored one, and reports whether
// the signing secret changed. The previous signing secret is always the
// bus's own: what a write says of it is ignored.
func (t *HTTPTarget) KeepSecrets(old *HTTPTarget) (changed bool) {
	s := t.Signing
	if s == nil {
		s = &Signing{}
	}
	sc := Signing{Disabled: s.Disabled, Secret: s.Secret, SecretEnv: s.SecretEnv}
	var oldSigning Signing
	if old != nil && old.Signing != nil {
		oldSigning = *old.Signing
	}
	switch {
	case sc.Secret == "":
		sc.Secret = oldSigning.Secret
		sc.PreviousSecret, sc.PreviousExpires = oldSigning.PreviousSecret, oldSigning.PreviousExpires
	case sc.Secret == oldSigning.Secret:
		sc.PreviousSecret, sc.PreviousExpires = oldSigning.PreviousSecret, oldSigning.PreviousExpires
	default:
		changed = true
	}
	t.Signing = &sc
	if t.Auth == nil || old == nil || old.Auth == nil {
		return changed
	}
	a, oa := *t.Auth, old.Auth
	if a.Basic != nil && a.Basic.Password == "" && oa.Basic != nil {
		b := *a.Basic
		b.Password = oa.Basic.Password
		a.Basic = &b
	}
	if a.APIKey != nil && a.APIKey.Value == "" && oa.APIKey != nil {
		k := *a.APIKey
		k.Value = oa.APIKey.Value
		a.APIKey = &k
	}
	if a.OAuth2 != nil && a.OAuth2.ClientSecret == "" && oa.OAuth2 != nil {
		o := *a.OAuth2
		o.ClientSecret = oa.OAuth2.ClientSecret
		a.OAuth2 = &o
	}
	t.Auth = &a
	return changed
}

// validHeaderName accepts an HTTP token (RFC 9110), the characters a header
// name may have.
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}
