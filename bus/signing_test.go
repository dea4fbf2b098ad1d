package bus_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/sdk"
)

// A secret a test gives the bus, and another one: "whsec_" + base64 of 32 bytes.
const (
	givenSecret = "whsec_Z2l2ZW4tc2VjcmV0LW9mLXRoZS10ZXN0LTMyLWJ5dGU="
	otherSecret = "whsec_b3RoZXItc2VjcmV0LW9mLXRoZS10ZXN0LTMyLWJ5dGU="
)

// routeJSON is a route as the API answers with it.
type routeJSON struct {
	Version int64 `json:"version"`
	Target  struct {
		HTTP struct {
			Signing *router.Signing    `json:"signing"`
			Auth    *router.TargetAuth `json:"auth"`
		} `json:"http"`
	} `json:"target"`
}

func decodeRoute(t *testing.T, body string) routeJSON {
	t.Helper()
	var r routeJSON
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("route answer %s: %v", body, err)
	}
	if r.Target.HTTP.Signing == nil {
		t.Fatalf("route answer %s has no target.http.signing: a client cannot tell whether deliveries are signed", body)
	}
	return r
}

// verifies reports whether a delivery verifies with exactly these secrets.
func verifies(d bustest.Delivery, secrets ...string) error {
	return sdk.VerifyWebhook(secrets, d.Header, d.Body, time.Now(), 0)
}

// A receiver can verify every delivery with the secret shown when the route
// was created, and that secret is never shown again.
func TestDeliveriesAreSignedWithTheSecretShownOnceAtCreation(t *testing.T) {
	hook := bustest.NewWebhook(t, nil)
	base := bustest.Start(t, bus.Config{}).URL
	status, body := do(t, http.MethodPut, base+"/v1/routes/signed", `{"target":{"http":{"url":"`+hook.URL+`"}}}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	secret := decodeRoute(t, body).Target.HTTP.Signing.Secret
	if _, err := router.SigningKey(secret); err != nil {
		t.Fatalf("the create answer must carry the generated secret, whsec_ and 24-64 bytes; got %q: %v", secret, err)
	}

	bustest.Emit(t, base, "e1", nil)
	d := hook.Next(t)
	if err := verifies(d, secret); err != nil {
		t.Fatalf("a delivery must verify with the route's secret: %v (headers %v)", err, d.Header)
	}
	if err := verifies(d, otherSecret); !errors.Is(err, sdk.ErrWebhookSignature) {
		t.Errorf("a delivery must not verify with another secret; got %v", err)
	}

	for _, path := range []string{"/v1/routes/signed", "/v1/routes"} {
		status, body := do(t, http.MethodGet, base+path, "")
		if status != http.StatusOK || strings.Contains(body, secret[len("whsec_"):]) {
			t.Errorf("GET %s = %d %s: the secret must never be shown after creation", path, status, body)
		}
		if !strings.Contains(body, router.SecretHint(secret)) {
			t.Errorf("GET %s = %s: want the hint %s, so an operator can tell which secret signs", path, body, router.SecretHint(secret))
		}
	}

	// An update that does not mention the secret keeps it.
	status, body = do(t, http.MethodPut, base+"/v1/routes/signed", `{"target":{"http":{"url":"`+hook.URL+`","timeout":"5s"}}}`)
	if status != http.StatusOK || strings.Contains(body, secret[len("whsec_"):]) || decodeRoute(t, body).Target.HTTP.Signing.Secret != "" {
		t.Fatalf("update: %d %s: want 200 without the secret", status, body)
	}
	bustest.Emit(t, base, "e2", nil)
	if err := verifies(hook.Next(t), secret); err != nil {
		t.Errorf("after an update that left the secret out, deliveries must still verify with it: %v", err)
	}
}

// A retry is the same message to the receiver: the same webhook-id, so it
// can drop the repeat, with a timestamp and signature of its own attempt.
func TestARetriedDeliveryKeepsItsWebhookID(t *testing.T) {
	var mu sync.Mutex
	var attempts []bustest.Delivery
	hook := newHook(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		attempts = append(attempts, bustest.Delivery{Header: r.Header.Clone(), Body: body})
		firstAttempt := len(attempts) == 1
		mu.Unlock()
		if firstAttempt {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	srv := bustest.Start(t, bus.Config{})
	base, b := srv.URL, srv.Bus
	r := fastRetries(route("retried", hook, ""), 3)
	r.Target.HTTP.Signing = &router.Signing{Secret: givenSecret}
	putRoute(t, b, r)
	bustest.Emit(t, base, "r1", nil)
	testkit.Eventually(t, bustest.DeliveryTimeout, "the first attempt and its retry", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts) >= 2
	})
	mu.Lock()
	first, retry := attempts[0], attempts[1]
	mu.Unlock()
	if id := retry.Header.Get("webhook-id"); id == "" || id != first.Header.Get("webhook-id") {
		t.Errorf("webhook-id of the retry = %q, of the first attempt %q: they must be equal and set", id, first.Header.Get("webhook-id"))
	}
	for _, d := range []bustest.Delivery{first, retry} {
		if err := verifies(d, givenSecret); err != nil {
			t.Errorf("every attempt must verify: %v", err)
		}
	}
}

// Rotation: the new secret and the old one both sign until the old one
// expires or is expired by hand, so receivers move over without a gap.
func TestARotatedSecretSignsBesideTheOldOneUntilItIsExpired(t *testing.T) {
	hook := bustest.NewWebhook(t, nil)
	srv := bustest.Start(t, bus.Config{})
	base, b := srv.URL, srv.Bus
	r := route("rotating", hook.URL, "")
	r.Target.HTTP.Signing = &router.Signing{Secret: givenSecret}
	putRoute(t, b, r)

	status, body := do(t, http.MethodPost, base+"/v1/routes/rotating/signing-secret", "")
	if status != http.StatusOK {
		t.Fatalf("rotate: %d %s", status, body)
	}
	rotated := decodeRoute(t, body).Target.HTTP.Signing
	newSecret := rotated.Secret
	if _, err := router.SigningKey(newSecret); err != nil || newSecret == givenSecret {
		t.Fatalf("the rotation answer must carry a new generated secret; got %q (%v)", newSecret, err)
	}
	if left := time.Until(rotated.PreviousExpires); left < bus.DefaultPreviousSecretTTL-time.Minute || left > bus.DefaultPreviousSecretTTL {
		t.Errorf("previous_expires = %s: want about %s from now by default", rotated.PreviousExpires, bus.DefaultPreviousSecretTTL)
	}
	if rotated.PreviousSecretHint != router.SecretHint(givenSecret) || rotated.PreviousSecret != "" {
		t.Errorf("the answer must hint at the previous secret without showing it: %+v", rotated)
	}

	bustest.Emit(t, base, "during", nil)
	d := hook.Next(t)
	for name, s := range map[string]string{"old": givenSecret, "new": newSecret} {
		if err := verifies(d, s); err != nil {
			t.Errorf("during the overlap a receiver with only the %s secret must verify: %v", name, err)
		}
	}

	status, body = do(t, http.MethodDelete, base+"/v1/routes/rotating/signing-secret/previous", "")
	if status != http.StatusOK || strings.Contains(body, "previous_secret_hint") {
		t.Fatalf("expire previous: %d %s: want 200 and no previous secret left", status, body)
	}
	bustest.Emit(t, base, "after", nil)
	d = hook.Next(t)
	if err := verifies(d, givenSecret); !errors.Is(err, sdk.ErrWebhookSignature) {
		t.Errorf("once expired the old secret must no longer sign; verifying with it gave %v", err)
	}
	if err := verifies(d, newSecret); err != nil {
		t.Errorf("the new secret must sign: %v", err)
	}
}

// A rotation to a given secret with previous_valid_for "0s" replaces the
// old one at once: for a secret that leaked.
func TestARotationCanEndTheOldSecretAtOnce(t *testing.T) {
	hook := bustest.NewWebhook(t, nil)
	srv := bustest.Start(t, bus.Config{})
	base, b := srv.URL, srv.Bus
	r := route("leaked", hook.URL, "")
	r.Target.HTTP.Signing = &router.Signing{Secret: givenSecret}
	putRoute(t, b, r)
	status, body := do(t, http.MethodPost, base+"/v1/routes/leaked/signing-secret", `{"secret":"`+otherSecret+`","previous_valid_for":"0s"}`)
	if status != http.StatusOK || strings.Contains(body, otherSecret[len("whsec_"):]) {
		t.Fatalf("rotate: %d %s: want 200, and a secret the caller gave is not echoed", status, body)
	}
	bustest.Emit(t, base, "x", nil)
	d := hook.Next(t)
	if err := verifies(d, givenSecret); err == nil {
		t.Error("the leaked secret must not sign any more")
	}
	if err := verifies(d, otherSecret); err != nil {
		t.Errorf("the given secret must sign: %v", err)
	}
}

func TestARouteMayTurnSigningOff(t *testing.T) {
	hook := bustest.NewWebhook(t, nil)
	srv := bustest.Start(t, bus.Config{})
	base, b := srv.URL, srv.Bus
	r := route("unsigned", hook.URL, "")
	r.Target.HTTP.Signing = &router.Signing{Disabled: true}
	saved := putRoute(t, b, r)
	if s := saved.Target.HTTP.Signing; s == nil || !s.Disabled || s.Secret != "" {
		t.Errorf("saved signing = %+v: want disabled and no secret generated", s)
	}
	bustest.Emit(t, base, "u", nil)
	d := hook.Next(t)
	for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if v := d.Header.Get(h); v != "" {
			t.Errorf("%s = %q on a route with signing disabled; want none", h, v)
		}
	}
	status, body := do(t, http.MethodPost, base+"/v1/routes/unsigned/signing-secret", "")
	if status != http.StatusConflict {
		t.Errorf("rotating the secret of an unsigned route = %d %s; want 409", status, body)
	}
}

// A bad secret is refused with the field named, and the message does not
// repeat it (it may be a real secret with a typo).
func TestABadSecretIsRefusedWithoutRepeatingIt(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	for _, secret := range []string{"whsec_dG9vLXNob3J0", "not-a-whsec-secret-at-all-but-long", "whsec_!!notbase64!!notbase64!!notbase64"} {
		status, body := do(t, http.MethodPut, base+"/v1/routes/bad", `{"target":{"http":{"url":"http://127.0.0.1:9/","signing":{"secret":"`+secret+`"}}}}`)
		if status != http.StatusBadRequest || !strings.Contains(body, "target.http.signing.secret") || strings.Contains(body, secret) {
			t.Errorf("secret %q: %d %s; want 400 naming target.http.signing.secret without the secret", secret, status, body)
		}
	}
	status, body := do(t, http.MethodPut, base+"/v1/routes/bad", `{"target":{"http":{"url":"http://127.0.0.1:9/","signing":{"secret_env":"HOME"}}}}`)
	if status != http.StatusBadRequest || !strings.Contains(body, "config file only") {
		t.Errorf("secret_env through the API: %d %s; want 400: an API caller must not sign with the bus's environment", status, body)
	}
}

func TestAConfigRouteReadsItsSecretFromTheEnvironment(t *testing.T) {
	t.Setenv("TEST_ROUTE_SECRET", givenSecret)
	hook := bustest.NewWebhook(t, nil)
	r := route("from-config", hook.URL, "")
	r.Target.HTTP.Signing = &router.Signing{SecretEnv: "TEST_ROUTE_SECRET"}
	base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL
	bustest.Emit(t, base, "c", nil)
	if err := verifies(hook.Next(t), givenSecret); err != nil {
		t.Errorf("a config route must sign with the secret of its secret_env: %v", err)
	}
	status, body := do(t, http.MethodGet, base+"/v1/routes/from-config", "")
	if strings.Contains(body, givenSecret[len("whsec_"):]) || !strings.Contains(body, "TEST_ROUTE_SECRET") {
		t.Errorf("GET = %d %s: want the variable's name, never its value", status, body)
	}
}

func TestAConfigRouteWhoseSecretVariableIsUnsetDoesNotStart(t *testing.T) {
	r := route("from-config", "http://127.0.0.1:9/", "")
	r.Target.HTTP.Signing = &router.Signing{SecretEnv: "TEST_ROUTE_SECRET_UNSET"}
	_, err := bus.New(t.Context(), bus.Config{Routes: []router.Route{r}}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "TEST_ROUTE_SECRET_UNSET is not set") {
		t.Fatalf("bus.New = %v; want an error naming the unset variable", err)
	}
}

// Basic and API key auth reach the target; the API never shows the
// password or key again, and an update that leaves them out keeps them.
func TestTargetCredentialsAreSentAndNeverShown(t *testing.T) {
	for _, tc := range []struct {
		name, auth, authNoSecret, secret string
		check                            func(r *http.Request) bool
	}{
		{
			name:         "basic",
			auth:         `{"basic":{"username":"bus","password":"pa55-w0rd-x"}}`,
			authNoSecret: `{"basic":{"username":"bus"}}`,
			secret:       "pa55-w0rd-x",
			check: func(r *http.Request) bool {
				u, p, ok := r.BasicAuth()
				return ok && u == "bus" && p == "pa55-w0rd-x"
			},
		},
		{
			name:         "api_key",
			auth:         `{"api_key":{"header":"X-Api-Key","value":"k3y-value-x"}}`,
			authNoSecret: `{"api_key":{"header":"X-Api-Key"}}`,
			secret:       "k3y-value-x",
			check:        func(r *http.Request) bool { return r.Header.Get("X-Api-Key") == "k3y-value-x" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan bool, 4)
			hook := newHook(t, func(w http.ResponseWriter, r *http.Request) { got <- tc.check(r) })
			base := bustest.Start(t, bus.Config{}).URL
			put := func(auth string) (int, string) {
				return do(t, http.MethodPut, base+"/v1/routes/authed", `{"target":{"http":{"url":"`+hook+`","auth":`+auth+`}}}`)
			}
			if status, body := put(tc.authNoSecret); status != http.StatusBadRequest || !strings.Contains(body, "is required") {
				t.Errorf("creating without the credential: %d %s; want 400 naming it", status, body)
			}
			for i, auth := range []string{tc.auth, tc.authNoSecret} {
				status, body := put(auth)
				if status >= 300 || strings.Contains(body, tc.secret) {
					t.Fatalf("write %d: %d %s; want success, credential not shown", i, status, body)
				}
				bustest.Emit(t, base, fmt.Sprint("a", i), nil)
				select {
				case ok := <-got:
					if !ok {
						t.Errorf("write %d: the target did not get the credential (an update that leaves it out must keep it)", i)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("no delivery within 10s")
				}
			}
			if status, body := do(t, http.MethodGet, base+"/v1/routes/authed", ""); strings.Contains(body, tc.secret) || !strings.Contains(body, `"`+tc.name+`"`) {
				t.Errorf("GET = %d %s: want the auth kind shown, its credential not", status, body)
			}
		})
	}
}
