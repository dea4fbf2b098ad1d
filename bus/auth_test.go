package bus_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
)

// securedBus is a bus with authentication on, the keys of its config, and
// bus "shop" whose ACL the tests probe:
//
//	emit: [shop, {groups: [partners], types: ["order.*"]}]
//	manage: [admins], read: [admins, support], redrive: [support]
//
// Route "orders" on shop is paused: it stores events without delivering
// them, so its stats count what ingress stored. Route "failing" dead-letters
// every event at the first failure.
type securedBus struct {
	base string
	bus  *bus.Bus
	// keys of the config by name: ops (admins), shop-web (shop),
	// support (support), acme (partners).
	keys map[string]string
}

func startSecuredBus(t *testing.T, extra ...router.Route) *securedBus {
	t.Helper()
	keys := map[string]string{}
	var apiKeys []auth.APIKeyConfig
	for name, group := range map[string]string{"ops": "admins", "shop-web": "shop", "support": "support", "acme": "partners"} {
		keys[name] = auth.GenerateKey()
		env := "EVENTBUS_TEST_KEY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		t.Setenv(env, keys[name])
		apiKeys = append(apiKeys, auth.APIKeyConfig{Name: name, KeyEnv: env, Groups: []string{group}})
	}
	failing := newHook(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	cfg := bus.Config{
		Auth: &auth.Config{Admins: []string{"admins"}, APIKeys: apiKeys},
		Buses: []router.Bus{{Name: "shop", ACL: &auth.ACL{
			Emit:    []auth.Grant{{Groups: []string{"shop"}}, {Groups: []string{"partners"}, Types: []string{"order.*"}}},
			Manage:  []string{"admins"},
			Read:    []string{"admins", "support"},
			Redrive: []string{"support"},
		}}},
		Routes: append([]router.Route{
			{Name: "orders", Bus: "shop", Paused: true, Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/unused"}}},
			{Name: "failing", Bus: "shop", Match: json.RawMessage(`{"type":["doomed"]}`),
				Target:   router.Target{HTTP: &router.HTTPTarget{URL: failing}},
				Delivery: router.Delivery{MaxAttempts: 1, DeadLetter: new(true)}},
		}, extra...),
	}
	srv := bustest.Start(t, cfg)
	return &securedBus{base: srv.URL, bus: srv.Bus, keys: keys}
}

// do sends a request with the key (or token) as bearer credential; an
// empty token sends none.
func (s *securedBus) do(t *testing.T, method, path, token string, header map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// emit sends one event of type typ to bus shop.
func (s *securedBus) emit(t *testing.T, token, id, typ string) (int, string) {
	t.Helper()
	h := binaryHeaders(map[string]string{"ce-id": id, "ce-type": typ, "Content-Type": "application/json"})
	status, _, body := s.do(t, http.MethodPost, "/buses/shop/events", token, h, `{}`)
	return status, body
}

// stored is how many events ingress stored on route orders.
func (s *securedBus) stored(t *testing.T) int64 {
	t.Helper()
	st, err := s.bus.Stats(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	return st.Accepted
}

// checkRefusal asserts the status and that the JSON error names what is
// wrong.
func checkRefusal(t *testing.T, status int, body string, wantStatus int, wantCode, wantMessage string) {
	t.Helper()
	var answer struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal([]byte(body), &answer)
	if status != wantStatus || answer.Error.Code != wantCode || !strings.Contains(answer.Error.Message, wantMessage) {
		t.Errorf("got %d %s; want %d with code %s and a message saying %q, so the caller knows what to fix", status, body, wantStatus, wantCode, wantMessage)
	}
}

func TestRequestsWithoutGoodCredentialsAreRefused(t *testing.T) {
	s := startSecuredBus(t)
	cases := []struct {
		name, token, wantChallenge, wantMessage string
	}{
		{"no credentials", "", `Bearer realm="eventbus"`, "no credentials: send Authorization: Bearer"},
		{"an unknown key", auth.GenerateKey(), `Bearer realm="eventbus", error="invalid_token"`, "not a known API key"},
		{"a key that is almost right", s.keys["ops"][:len(s.keys["ops"])-1], `Bearer realm="eventbus", error="invalid_token"`, "not a known API key"},
	}
	requests := []struct {
		method, path, body string
	}{
		{http.MethodPost, "/buses/shop/events", ""},
		{http.MethodPost, "/events", ""},
		{http.MethodPost, "/buses/no-such-bus/events", ""}, // 401, not 404: a stranger learns nothing
		{http.MethodPut, "/v1/routes/intruder", `{"bus":"shop","target":{"http":{"url":"http://127.0.0.1:9/"}}}`},
		{http.MethodGet, "/v1/routes", ""},
		{http.MethodGet, "/v1/routes/orders/dlq", ""},
		{http.MethodPost, "/v1/keys", `{"name":"mine","groups":["admins"]}`},
		{http.MethodPost, "/v1/test-pattern", `{"match":{},"event":{}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, rq := range requests {
				h := binaryHeaders(map[string]string{"Content-Type": "application/json"})
				status, header, body := s.do(t, rq.method, rq.path, tc.token, h, rq.body)
				checkRefusal(t, status, body, http.StatusUnauthorized, "unauthenticated", tc.wantMessage)
				if got := header.Get("WWW-Authenticate"); got != tc.wantChallenge {
					t.Errorf("%s %s: WWW-Authenticate %q, want %q (RFC 6750)", rq.method, rq.path, got, tc.wantChallenge)
				}
			}
			if n := s.stored(t); n != 0 {
				t.Errorf("%d events stored from refused requests; want none", n)
			}
			if _, ok := s.bus.Route("intruder"); ok {
				t.Error("a route was created by a refused request")
			}
			if len(s.bus.Keys()) != 4 {
				t.Errorf("keys %v: a refused request changed them", s.bus.Keys())
			}
		})
	}
	if status, _, _ := s.do(t, http.MethodGet, "/healthz", "", nil, ""); status != http.StatusOK {
		t.Errorf("/healthz without credentials: %d; probes must not need them", status)
	}
}

func TestRevokedKeyIsRefused(t *testing.T) {
	s := startSecuredBus(t)
	status, header, body := s.do(t, http.MethodPost, "/v1/keys", s.keys["ops"], nil, `{"name":"ci","groups":["shop"]}`)
	var created struct {
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
		Key    string   `json:"key"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || status != http.StatusCreated || !strings.HasPrefix(created.Key, auth.KeyPrefix) {
		t.Fatalf("POST /v1/keys: %d %s; want 201 with the new key", status, body)
	}
	if header.Get("Cache-Control") != "no-store" {
		t.Error("the answer that carries a new key may be cached: want Cache-Control: no-store")
	}
	_, _, list := s.do(t, http.MethodGet, "/v1/keys", s.keys["ops"], nil, "")
	if !strings.Contains(list, `"name":"ci"`) || strings.Contains(list, created.Key) || strings.Contains(list, auth.HashKey(created.Key).String()) || strings.Contains(list, s.keys["ops"]) {
		t.Errorf("GET /v1/keys = %s; want the key ci listed without any key or hash", list)
	}
	if status, body := s.emit(t, created.Key, "1", "order.created"); status != http.StatusAccepted {
		t.Fatalf("emit with the new key: %d %s; want 202", status, body)
	}
	if status, _, body := s.do(t, http.MethodDelete, "/v1/keys/ci", s.keys["ops"], nil, ""); status != http.StatusNoContent {
		t.Fatalf("DELETE /v1/keys/ci: %d %s", status, body)
	}
	status, body = s.emit(t, created.Key, "2", "order.created")
	checkRefusal(t, status, body, http.StatusUnauthorized, "unauthenticated", "not a known API key: it is wrong or was revoked")
	if n := s.stored(t); n != 1 {
		t.Errorf("%d events stored; want only the one sent before the revocation", n)
	}
}

func TestWrongGroupIsRefusedPerAction(t *testing.T) {
	s := startSecuredBus(t)
	// A dead letter for the redrive cases.
	if status, body := s.emit(t, s.keys["shop-web"], "doomed-1", "doomed"); status != http.StatusAccepted {
		t.Fatalf("emit: %d %s", status, body)
	}
	deadLetters := func() int64 {
		_, n, err := s.bus.DeadLetters(context.Background(), "failing", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	testkit.Eventually(t, 10*time.Second, "the failing route's dead letter", func() bool { return deadLetters() == 1 })
	storedBefore := s.stored(t)
	secretBefore := signingSecret(t, s.bus, "orders")

	cases := []struct {
		name, key, method, path, body string
		wantMessage                   string
		unchanged                     func() bool
	}{
		{"emit by a group not in acl.emit", "support", http.MethodPost, "/buses/shop/events", "",
			`key "support" may not emit to bus "shop": acl.emit allows groups [shop, partners]; key "support" is in groups [support]`,
			func() bool { return s.stored(t) == storedBefore }},
		{"emit to a bus without acl", "shop-web", http.MethodPost, "/events", "",
			`key "shop-web" may not emit to bus "default": the bus has no acl, so it is for auth.admins [admins] only`,
			func() bool { return s.stored(t) == storedBefore }},
		{"manage: create a route", "shop-web", http.MethodPut, "/v1/routes/exfiltrate", `{"bus":"shop","target":{"http":{"url":"http://127.0.0.1:9/"}}}`,
			`key "shop-web" may not manage bus "shop": acl.manage allows groups [admins]`,
			func() bool { _, ok := s.bus.Route("exfiltrate"); return !ok }},
		{"manage: delete a route", "support", http.MethodDelete, "/v1/routes/orders", "",
			`key "support" may not manage bus "shop"`,
			func() bool { _, ok := s.bus.Route("orders"); return ok }},
		{"manage: create a bus", "shop-web", http.MethodPut, "/v1/buses/mine", `{}`,
			`key "shop-web" may not create bus "mine": that is for auth.admins [admins]`,
			func() bool { _, ok := s.bus.BusNamed("mine"); return !ok }},
		{"manage: keys", "support", http.MethodPost, "/v1/keys", `{"name":"mine","groups":["admins"]}`,
			`key "support" may not manage API keys: that is for auth.admins [admins]`,
			func() bool { return len(s.bus.Keys()) == 4 }},
		{"read: stats", "shop-web", http.MethodGet, "/v1/routes/orders/stats", "",
			`key "shop-web" may not read bus "shop": acl.read allows groups [admins, support]`, nil},
		{"read: dead letters", "acme", http.MethodGet, "/v1/routes/failing/dlq", "",
			`key "acme" may not read bus "shop"`, nil},
		{"read: a route", "shop-web", http.MethodGet, "/v1/routes/orders", "",
			`key "shop-web" may not read bus "shop"`, nil},
		{"manage: rotate a route's signing secret", "support", http.MethodPost, "/v1/routes/orders/signing-secret", "",
			`key "support" may not manage bus "shop"`,
			func() bool { return signingSecret(t, s.bus, "orders") == secretBefore }},
		{"manage: end a route's previous signing secret", "shop-web", http.MethodDelete, "/v1/routes/orders/signing-secret/previous", "",
			`key "shop-web" may not manage bus "shop"`,
			func() bool { return signingSecret(t, s.bus, "orders") == secretBefore }},
		{"redrive", "shop-web", http.MethodPost, "/v1/routes/failing/dlq/redrive", "",
			`key "shop-web" may not redrive bus "shop": acl.redrive allows groups [support]`,
			func() bool { return deadLetters() == 1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := binaryHeaders(map[string]string{"ce-id": "refused", "Content-Type": "application/json"})
			status, _, body := s.do(t, tc.method, tc.path, s.keys[tc.key], h, tc.body)
			checkRefusal(t, status, body, http.StatusForbidden, "permission_denied", tc.wantMessage)
			if tc.unchanged != nil && !tc.unchanged() {
				t.Error("the refused request changed the bus")
			}
		})
	}

	// The rights the refusals withheld work for the groups that hold them.
	if status, _, body := s.do(t, http.MethodPost, "/v1/routes/failing/dlq/redrive", s.keys["support"], nil, ""); status != http.StatusOK {
		t.Errorf("redrive by support: %d %s; want 200", status, body)
	}
	if status, _, body := s.do(t, http.MethodPut, "/v1/routes/audit", s.keys["ops"], nil, `{"bus":"shop","paused":true,"target":{"http":{"url":"http://127.0.0.1:9/"}}}`); status != http.StatusCreated {
		t.Errorf("create a route as an admin: %d %s; want 201", status, body)
	}
	_, _, list := s.do(t, http.MethodGet, "/v1/routes", s.keys["shop-web"], nil, "")
	if strings.Contains(list, "orders") {
		t.Errorf("GET /v1/routes by a key that may not read bus shop lists its routes: %s", list)
	}
}

func TestEmitOutsideAllowedTypesStoresNothingOfTheBatch(t *testing.T) {
	s := startSecuredBus(t)
	batch := `[{"specversion":"1.0","id":"a","source":"partner/acme","type":"order.created"},
	           {"specversion":"1.0","id":"b","source":"partner/acme","type":"user.deleted"}]`
	status, _, body := s.do(t, http.MethodPost, "/buses/shop/events", s.keys["acme"], map[string]string{"Content-Type": "application/cloudevents-batch+json"}, batch)
	checkRefusal(t, status, body, http.StatusForbidden, "permission_denied",
		`key "acme" may not emit an event of type "user.deleted" from source "partner/acme" to bus "shop": its groups may emit only types [order.*]`)
	if n := s.stored(t); n != 0 {
		t.Errorf("%d events stored; a refused batch must store none, not even its allowed events", n)
	}
	if status, body := s.emit(t, s.keys["acme"], "c", "order.shipped"); status != http.StatusAccepted {
		t.Errorf("an event inside the grant: %d %s; want 202", status, body)
	}
}

func TestSecurityDocAuthConfigLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eventbus.yaml")
	yaml := `auth:
  api_keys:
    - {name: shop-web, key_env: SHOP_WEB_KEY, groups: [shop]}
    - {name: ops, key_env: OPS_KEY, groups: [admins]}
buses:
  - name: shop
    acl: {emit: [shop], manage: [admins], read: [admins]}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := bus.LoadConfig(path)
	if err != nil {
		t.Fatalf("the issue's config does not load: %v", err)
	}
	acl := cfg.Buses[0].ACL
	if acl == nil || len(acl.Emit) != 1 || acl.Emit[0].Groups[0] != "shop" || acl.Manage[0] != "admins" || acl.Read[0] != "admins" {
		t.Errorf("bus shop's ACL read as %+v", acl)
	}
	t.Setenv("OPS_KEY", auth.GenerateKey())
	t.Setenv("SHOP_WEB_KEY", "")
	_, err = bus.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "environment variable SHOP_WEB_KEY is not set or empty") {
		t.Errorf("bus.New with SHOP_WEB_KEY empty: %v; want an error naming the variable", err)
	}
}

// signingSecret is the secret route name signs its deliveries with.
func signingSecret(t *testing.T, b *bus.Bus, name string) string {
	t.Helper()
	r, ok := b.Route(name)
	if !ok || r.Target.HTTP == nil || r.Target.HTTP.Signing == nil {
		t.Fatalf("route %s has no signing settings", name)
	}
	return r.Target.HTTP.Signing.Secret
}
