package auth

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/eventbus-go/eventbus/spec"
)

// Config is the auth section of the bus config. Its presence turns
// authentication on; its zero fields mean the documented defaults.
type Config struct {
	// Admins are the groups that may do anything (Policy.Admins).
	Admins []string `json:"admins,omitempty"`
	// APIKeys are keys declared in the config; each key is read from an
	// environment variable at start, so the file holds no secret.
	APIKeys []APIKeyConfig `json:"api_keys,omitempty"`
	// OIDC, when set, accepts JWTs from an OpenID Connect issuer.
	OIDC *OIDCConfig `json:"oidc,omitempty"`
	// ClientCerts lets a TLS client certificate that the bus verified
	// (tls.client_ca_file) identify a caller that sends no bearer
	// credential: the subject's common name is its name, the subject's
	// organizational units are its groups.
	ClientCerts bool `json:"client_certs,omitempty"`
}

// APIKeyConfig declares one API key.
type APIKeyConfig struct {
	Name string `json:"name"`
	// KeyEnv names the environment variable holding the key.
	KeyEnv string   `json:"key_env"`
	Groups []string `json:"groups,omitempty"`
}

// DefaultGroupsClaim is the claim OIDCConfig reads groups from unless it
// names another.
const DefaultGroupsClaim = "groups"

// OIDCConfig names the issuer whose JWTs the bus accepts.
type OIDCConfig struct {
	// Issuer is the issuer URL; its /.well-known/openid-configuration
	// is read at start.
	Issuer string `json:"issuer"`
	// Audience must be among the token's aud claim.
	Audience string `json:"audience"`
	// GroupsClaim names the claim that lists the caller's groups (a list
	// of strings, or one string); empty means DefaultGroupsClaim.
	GroupsClaim string `json:"groups_claim,omitempty"`
}

var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidateKeyName checks the name of an API key, which appears in URLs.
func ValidateKeyName(name string) error {
	if !keyName.MatchString(name) {
		return fmt.Errorf("key name %q must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// Validate checks the config, naming each field at fault by its path
// inside the auth section.
func (c *Config) Validate() error {
	var errs []error
	names := map[string]int{}
	for i, k := range c.APIKeys {
		prefix := fmt.Sprintf("api_keys[%d]", i)
		if err := ValidateKeyName(k.Name); err != nil {
			errs = append(errs, &spec.FieldError{Path: prefix + ".name", Message: err.Error()})
		}
		if j, dup := names[k.Name]; dup {
			errs = append(errs, &spec.FieldError{Path: prefix + ".name", Message: fmt.Sprintf("%q is already the name of api_keys[%d]", k.Name, j)})
		}
		names[k.Name] = i
		if k.KeyEnv == "" {
			errs = append(errs, &spec.FieldError{Path: prefix + ".key_env", Message: "is required: the environment variable that holds the key"})
		}
	}
	if o := c.OIDC; o != nil {
		if u, err := url.Parse(o.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, &spec.FieldError{Path: "oidc.issuer", Message: fmt.Sprintf("%q is not an issuer URL such as https://accounts.example.com", o.Issuer)})
		}
		if o.Audience == "" {
			errs = append(errs, &spec.FieldError{Path: "oidc.audience", Message: "is required: the audience (aud) the bus's tokens are issued for"})
		}
	}
	return errors.Join(errs...)
}

// ConfigKeys reads the keys the config declares from the environment
// through getenv (os.Getenv). A variable that is unset or empty, or a key
// shorter than MinKeyLength, is an error naming the variable — never the
// key.
func (c *Config) ConfigKeys(getenv func(string) string) ([]Key, error) {
	var keys []Key
	var errs []error
	seen := map[Hash]string{}
	for i, k := range c.APIKeys {
		secret := getenv(k.KeyEnv)
		switch {
		case secret == "":
			errs = append(errs, fmt.Errorf("auth.api_keys[%d] (%s): environment variable %s is not set or empty: set it to the key (generate one with `openssl rand -base64 32`)", i, k.Name, k.KeyEnv))
			continue
		case len(secret) < MinKeyLength:
			errs = append(errs, fmt.Errorf("auth.api_keys[%d] (%s): the key in %s is %d characters; use at least %d random ones", i, k.Name, k.KeyEnv, len(secret), MinKeyLength))
			continue
		}
		h := HashKey(secret)
		if other, dup := seen[h]; dup {
			errs = append(errs, fmt.Errorf("auth.api_keys[%d] (%s): the key in %s is the key of %s: give each its own", i, k.Name, k.KeyEnv, other))
			continue
		}
		seen[h] = k.Name
		keys = append(keys, Key{Name: k.Name, Groups: k.Groups, Origin: "config", Hash: h})
	}
	return keys, errors.Join(errs...)
}
