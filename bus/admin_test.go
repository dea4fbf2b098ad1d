package bus_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
)

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRouteLifecycleThroughTheAdminAPI(t *testing.T) {
	hook := bustest.NewWebhook(t, nil)
	base := bustest.Start(t, bus.Config{}).URL
	routeJSON := `{"match":{"type":["order.created"]},"target":{"http":{"url":"` + hook.URL + `"}}}`

	if status, body := do(t, "PUT", base+"/v1/routes/orders", routeJSON); status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	if status, body := do(t, "PUT", base+"/v1/routes/orders", routeJSON); status != http.StatusOK {
		t.Fatalf("replace: %d %s, want 200", status, body)
	}
	status, body := do(t, "GET", base+"/v1/routes/orders", "")
	var saved map[string]any
	if err := json.Unmarshal([]byte(body), &saved); status != 200 || err != nil {
		t.Fatalf("get: %d %s", status, body)
	}
	if saved["backend"] != "mem://" || saved["bus"] != "default" {
		t.Errorf("saved route %s: want defaults filled in (backend mem://, bus default)", body)
	}
	if _, body := do(t, "GET", base+"/v1/routes", ""); !strings.Contains(body, `"orders"`) {
		t.Errorf("list %s lacks the route", body)
	}

	resp, _ := post(t, base+"/events", "", binaryHeaders(map[string]string{"ce-type": "order.created"}), `{}`)
	if resp.StatusCode != 202 {
		t.Fatalf("emit: %d", resp.StatusCode)
	}
	hook.Next(t)

	if status, body := do(t, "DELETE", base+"/v1/routes/orders", ""); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	if status, _ := do(t, "GET", base+"/v1/routes/orders", ""); status != http.StatusNotFound {
		t.Errorf("get after delete: %d, want 404", status)
	}
	if status, _ := do(t, "DELETE", base+"/v1/routes/orders", ""); status != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", status)
	}
	_, body = post(t, base+"/events", "", binaryHeaders(map[string]string{"ce-type": "order.created", "ce-id": "2"}), `{}`)
	if !strings.Contains(body, `"routes":[]`) {
		t.Errorf("after delete the event still matched a route: %s", body)
	}
}

// A bad route is refused on save with the path of every offending field.
func TestInvalidRoutesAreRefusedWithTheFieldPath(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	cases := []struct {
		name, body, path string
		status           int
	}{
		{"no target", `{}`, `"target"`, 400},
		{"target URL not http", `{"target":{"http":{"url":"ftp://x"}}}`, `"target.http.url"`, 400},
		{"negative attempts", `{"target":{"http":{"url":"http://x"}},"delivery":{"max_attempts":-1}}`, `"delivery.max_attempts"`, 400},
		{"bad duration", `{"target":{"http":{"url":"http://x"}},"delivery":{"backoff":{"initial":"soon"}}}`, `soon`, 400},
		{"unknown field", `{"target":{"http":{"url":"http://x"}},"delivry":{}}`, `delivry`, 400},
		{"unknown backend scheme", `{"backend":"carrier-pigeon://x","target":{"http":{"url":"http://x"}}}`, `"backend"`, 400},
		{"bad pattern", `{"match":{"type":"not-an-array"},"target":{"http":{"url":"http://x"}}}`, `match.type`, 400},
		{"name differs from URL", `{"name":"other","target":{"http":{"url":"http://x"}}}`, `"name"`, 400},
		{"empty body", ``, `empty`, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, "PUT", base+"/v1/routes/r1", tc.body)
			if status != tc.status || !strings.Contains(body, tc.path) {
				t.Fatalf("status %d body %s; want %d naming %s", status, body, tc.status, tc.path)
			}
		})
	}
	if status, body := do(t, "PUT", base+"/v1/routes/bad%20name", `{"target":{"http":{"url":"http://x"}}}`); status != 400 || !strings.Contains(body, `"name"`) {
		t.Errorf("bad route name: %d %s, want 400 naming name", status, body)
	}
}

// A route cannot silently move to another backend: its waiting events would
// be stranded.
func TestChangingARoutesBackendIsRefused(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	do(t, "PUT", base+"/v1/routes/r", `{"target":{"http":{"url":"http://127.0.0.1:1"}},"paused":true}`)
	status, body := do(t, "PUT", base+"/v1/routes/r", `{"backend":"mem://?max_depth=5","target":{"http":{"url":"http://127.0.0.1:1"}},"paused":true}`)
	if status != http.StatusConflict || !strings.Contains(body, "cannot move") {
		t.Fatalf("status %d body %s, want 409 explaining the move is refused", status, body)
	}
}

func TestTestPatternExplainsTheResult(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	status, body := do(t, "POST", base+"/v1/test-pattern",
		`{"match":{"type":["user.signed_up"]},"event":{"type":"user.deleted","source":"web"}}`)
	if status != 200 || !strings.Contains(body, `"matched":false`) || !strings.Contains(body, "type") {
		t.Errorf("non-match: %d %s, want matched false with a reason naming type", status, body)
	}
	status, body = do(t, "POST", base+"/v1/test-pattern",
		`{"match":{"type":["user.signed_up"]},"event":{"type":"user.signed_up"}}`)
	if status != 200 || !strings.Contains(body, `"matched":true`) {
		t.Errorf("match: %d %s", status, body)
	}
	status, body = do(t, "POST", base+"/v1/test-pattern", `{"match":{"type":["x"]}}`)
	if status != 400 || !strings.Contains(body, "event") {
		t.Errorf("missing event: %d %s, want 400 naming event", status, body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := do(t, "GET", base+path, ""); status != 200 {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
}
