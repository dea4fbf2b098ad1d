package bus_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/router"
)

// issuer is an OIDC provider in the test: it serves its discovery document
// and JWKS and signs tokens with its key.
type issuer struct {
	url string
	key *rsa.PrivateKey
}

func startIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := &issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss.url, "jwks_uri": iss.url + "/keys",
			"authorization_endpoint": iss.url + "/auth", "token_endpoint": iss.url + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"},
		}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss.url = srv.URL
	return iss
}

// token signs claims with key under key id k1.
func token(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestOIDCTokensAreVerified(t *testing.T) {
	iss := startIssuer(t)
	foreignKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cfg := bus.Config{
		Auth:  &auth.Config{OIDC: &auth.OIDCConfig{Issuer: iss.url, Audience: "eventbus", GroupsClaim: "roles"}},
		Buses: []router.Bus{{Name: "shop", ACL: &auth.ACL{Emit: []auth.Grant{{Groups: []string{"shop"}}}}}},
		Routes: []router.Route{{Name: "orders", Bus: "shop", Paused: true,
			Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/unused"}}}},
	}
	srv := bustest.Start(t, cfg)
	s := &securedBus{base: srv.URL, bus: srv.Bus}
	now := time.Now()
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{"iss": iss.url, "aud": "eventbus", "sub": "svc-shop", "roles": []string{"shop"},
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if change != nil {
			change(c)
		}
		return c
	}

	if status, body := s.emit(t, token(t, iss.key, claims(nil)), "ok", "order.created"); status != http.StatusAccepted {
		t.Fatalf("emit with a valid token: %d %s; want 202", status, body)
	}
	cases := []struct {
		name, token, wantMessage string
	}{
		{"an expired token", token(t, iss.key, claims(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		})), "expired"},
		{"a token signed by a foreign key", token(t, foreignKey, claims(nil)), "signature"},
		{"a token from a foreign issuer", token(t, iss.key, claims(func(c map[string]any) { c["iss"] = "https://other.example" })), "issued by a different provider"},
		{"a token for another audience", token(t, iss.key, claims(func(c map[string]any) { c["aud"] = "billing" })), "audience"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := binaryHeaders(map[string]string{"ce-id": "refused", "Content-Type": "application/json"})
			status, header, body := s.do(t, http.MethodPost, "/buses/shop/events", tc.token, h, `{}`)
			checkRefusal(t, status, body, http.StatusUnauthorized, "unauthenticated", tc.wantMessage)
			if got := header.Get("WWW-Authenticate"); got != `Bearer realm="eventbus", error="invalid_token"` {
				t.Errorf("WWW-Authenticate %q; want the invalid_token challenge", got)
			}
			if n := s.stored(t); n != 1 {
				t.Errorf("%d events stored; want only the one with the valid token", n)
			}
		})
	}

	wrongGroup := token(t, iss.key, claims(func(c map[string]any) { c["roles"] = "billing" }))
	status, body := s.emit(t, wrongGroup, "billing", "order.created")
	checkRefusal(t, status, body, http.StatusForbidden, "permission_denied", `token "svc-shop" may not emit to bus "shop": acl.emit allows groups [shop]; token "svc-shop" is in groups [billing]`)
}
