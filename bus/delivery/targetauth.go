package delivery

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/eventbus-go/eventbus/bus/httpbinding"
	"github.com/eventbus-go/eventbus/router"
)

// authorizer adds a target's credentials to each request's header. An
// error fails the attempt, which is retried: credentials that cannot be had
// now (a token endpoint down) may be had later.
type authorizer interface {
	authorize(ctx context.Context, h httpbinding.Header) error
	// rejected tells the authorizer the target answered 401 to credentials
	// it gave, so cached ones are not offered again.
	rejected()
}

// newAuthorizer returns the authorizer of a target's auth, nil for none.
// A token is fetched within timeout, the target's.
func newAuthorizer(a *router.TargetAuth, client *http.Client, timeout time.Duration, now func() time.Time) authorizer {
	switch {
	case a == nil:
		return nil
	case a.Basic != nil:
		return newBasicAuth(*a.Basic)
	case a.APIKey != nil:
		return apiKeyAuth{*a.APIKey}
	case a.OAuth2 != nil:
		return newOAuth2Auth(*a.OAuth2, client, timeout, now)
	}
	return nil
}

// basicAuth is the Authorization header of a user name and password,
// encoded once.
type basicAuth struct{ header string }

func newBasicAuth(b router.BasicAuth) basicAuth {
	return basicAuth{"Basic " + base64.StdEncoding.EncodeToString([]byte(b.Username+":"+b.Password))}
}

func (b basicAuth) authorize(_ context.Context, h httpbinding.Header) error {
	h.Set("Authorization", b.header)
	return nil
}

func (basicAuth) rejected() {}

type apiKeyAuth struct{ router.APIKeyAuth }

func (k apiKeyAuth) authorize(_ context.Context, h httpbinding.Header) error {
	h.Set(k.Header, k.Value)
	return nil
}

func (apiKeyAuth) rejected() {}

// tokenEarly is how long before its expiry a token is fetched anew, so a
// delivery in flight does not carry a token that expires on the way.
const tokenEarly = 30 * time.Second

// maxTokenError bounds how much of a token endpoint's answer an error
// repeats.
const maxTokenError = 300

// oauth2Auth gets bearer tokens with the client credentials grant. One
// token serves every delivery until it nears its expiry (or the target
// refuses it); then the next delivery fetches a new one, while the others
// wait for it rather than fetching their own.
type oauth2Auth struct {
	cfg     clientcredentials.Config
	client  *http.Client
	timeout time.Duration // of one fetch
	now     func() time.Time

	fetching chan struct{} // held while a token is fetched
	mu       sync.Mutex    // guards token and expiry
	token    *oauth2.Token
	expiry   time.Time // zero: the token does not expire
}

func newOAuth2Auth(o router.OAuth2Auth, client *http.Client, timeout time.Duration, now func() time.Time) *oauth2Auth {
	return &oauth2Auth{
		cfg: clientcredentials.Config{
			ClientID:     o.ClientID,
			ClientSecret: o.ClientSecret,
			TokenURL:     o.TokenURL,
			Scopes:       o.Scopes,
		},
		client:   client,
		timeout:  timeout,
		now:      now,
		fetching: make(chan struct{}, 1),
	}
}

func (a *oauth2Auth) authorize(ctx context.Context, h httpbinding.Header) error {
	tok, err := a.tokenFor(ctx)
	if err != nil {
		msg := err.Error()
		if len(msg) > maxTokenError {
			msg = msg[:maxTokenError] + "…"
		}
		return fmt.Errorf("getting an OAuth2 token from %s: %s", a.cfg.TokenURL, msg)
	}
	h.Set("Authorization", tok.Type()+" "+tok.AccessToken)
	return nil
}

// tokenFor returns the cached token while it is good, without waiting on
// anyone; otherwise one delivery fetches a new token while the others wait
// for it and then take it from the cache.
func (a *oauth2Auth) tokenFor(ctx context.Context) (*oauth2.Token, error) {
	if tok := a.cached(); tok != nil {
		return tok, nil
	}
	select {
	case a.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-a.fetching }()
	if tok := a.cached(); tok != nil { // fetched while this delivery waited
		return tok, nil
	}
	now := a.now()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	tok, err := a.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, a.client))
	if err != nil {
		return nil, err
	}
	// The library dates the expiry by the wall clock; keep the token's
	// lifetime, counted on a.now.
	var expiry time.Time
	if !tok.Expiry.IsZero() {
		expiry = now.Add(time.Until(tok.Expiry))
	}
	a.mu.Lock()
	a.token, a.expiry = tok, expiry
	a.mu.Unlock()
	return tok, nil
}

// cached returns the token while it has tokenEarly or more to live, else nil.
func (a *oauth2Auth) cached() *oauth2.Token {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != nil && (a.expiry.IsZero() || a.now().Add(tokenEarly).Before(a.expiry)) {
		return a.token
	}
	return nil
}

func (a *oauth2Auth) rejected() {
	a.mu.Lock()
	a.token = nil
	a.mu.Unlock()
}
