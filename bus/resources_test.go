package bus_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/router"
)

func doWith(t *testing.T, method, url, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return resp.StatusCode, resp.Header, b.String()
}

// Every write bumps a resource's version; a write that names a stale one
// is refused, so two operators never silently overwrite each other.
func TestStaleUpdatesAreRefused(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	route := `{"target":{"http":{"url":"http://127.0.0.1:9/"}},"paused":true}`
	status, h, body := doWith(t, "PUT", base+"/v1/routes/r", route, nil)
	if status != 201 || h.Get("ETag") != `"1"` || !strings.Contains(body, `"version":1`) {
		t.Fatalf("create: %d %v %s; want 201 with version 1", status, h.Get("ETag"), body)
	}
	if status, h, _ := doWith(t, "PUT", base+"/v1/routes/r", route, map[string]string{"If-Match": `"1"`}); status != 200 || h.Get("ETag") != `"2"` {
		t.Fatalf("update at version 1: %d ETag %s; want 200 and version 2", status, h.Get("ETag"))
	}
	status, _, body = doWith(t, "PUT", base+"/v1/routes/r", route, map[string]string{"If-Match": `"1"`})
	if status != http.StatusConflict || !strings.Contains(body, "version 1") {
		t.Fatalf("stale If-Match: %d %s; want 409 naming the version", status, body)
	}
	stale := strings.Replace(route, `{`, `{"version":1,`, 1)
	if status, _, _ := doWith(t, "PUT", base+"/v1/routes/r", stale, nil); status != http.StatusConflict {
		t.Fatalf("stale version in the body: %d, want 409", status)
	}
	if status, _, _ := doWith(t, "PUT", base+"/v1/routes/r", route, map[string]string{"If-None-Match": "*"}); status != http.StatusConflict {
		t.Fatalf("create-only of an existing route: %d, want 409", status)
	}
	if status, _, _ := doWith(t, "DELETE", base+"/v1/routes/r", "", map[string]string{"If-Match": `"1"`}); status != http.StatusConflict {
		t.Fatalf("stale delete: %d, want 409", status)
	}
	if status, _, _ := doWith(t, "DELETE", base+"/v1/routes/r", "", map[string]string{"If-Match": `"2"`}); status != http.StatusNoContent {
		t.Fatalf("delete at the current version: %d, want 204", status)
	}
}

func TestBusesAreResources(t *testing.T) {
	hook := bustest.NewWebhook(t, nil)
	base := bustest.Start(t, bus.Config{}).URL
	route := `{"bus":"shop","target":{"http":{"url":"` + hook.URL + `"}}}`
	if status, _, body := doWith(t, "PUT", base+"/v1/routes/orders", route, nil); status != 400 || !strings.Contains(body, `"bus"`) {
		t.Fatalf("route on a missing bus: %d %s; want 400 naming bus", status, body)
	}
	if status, _, body := doWith(t, "PUT", base+"/v1/buses/shop", `{"backend":"mem://?max_depth=50"}`, nil); status != 201 {
		t.Fatalf("create bus: %d %s", status, body)
	}
	status, _, body := doWith(t, "PUT", base+"/v1/routes/orders", route, nil)
	if status != 201 || !strings.Contains(body, `"backend":"mem://?max_depth=50"`) {
		t.Fatalf("route on the bus: %d %s; want the bus's backend", status, body)
	}
	resp, _ := post(t, base+"/buses/shop/events", "", binaryHeaders(nil), `{}`)
	if resp.StatusCode != 202 {
		t.Fatalf("emit to the bus: %d", resp.StatusCode)
	}
	hook.Next(t)
	if status, _, body := doWith(t, "DELETE", base+"/v1/buses/shop", "", nil); status != 409 || !strings.Contains(body, "orders") {
		t.Fatalf("delete a bus with routes: %d %s; want 409 naming the route", status, body)
	}
	if status, _, body := doWith(t, "GET", base+"/v1/buses", "", nil); status != 200 || !strings.Contains(body, `"shop"`) || !strings.Contains(body, `"default"`) {
		t.Fatalf("list buses: %d %s", status, body)
	}
	doWith(t, "DELETE", base+"/v1/routes/orders", "", nil)
	if status, _, _ := doWith(t, "DELETE", base+"/v1/buses/shop", "", nil); status != 204 {
		t.Fatalf("delete an empty bus: %d", status)
	}
	doWith(t, "PUT", base+"/v1/buses/default", `{"backend":"mem://?max_depth=7"}`, nil)
	if status, _, _ := doWith(t, "DELETE", base+"/v1/buses/default", "", nil); status != 204 {
		t.Fatalf("delete the default bus: %d, want 204 (a reset)", status)
	}
	if _, _, body := doWith(t, "GET", base+"/v1/buses/default", "", nil); !strings.Contains(body, `"origin":"builtin"`) || strings.Contains(body, "max_depth") {
		t.Fatalf("the default bus after its delete: %s; want it back to builtin", body)
	}
}

// Resources from the config file are read-only through the API, and say so.
func TestConfigResourcesAreReadOnly(t *testing.T) {
	base := bustest.Start(t, bus.Config{
		Buses:  []router.Bus{{Name: "ops"}},
		Routes: []router.Route{{Name: "audit", Bus: "ops", Paused: true, Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/"}}}},
	}).URL
	status, _, body := doWith(t, "GET", base+"/v1/routes/audit", "", nil)
	if status != 200 || !strings.Contains(body, `"origin":"config"`) {
		t.Fatalf("get: %d %s; want origin config", status, body)
	}
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/v1/routes/audit", `{"bus":"ops","target":{"http":{"url":"http://127.0.0.1:9/"}}}`},
		{"DELETE", "/v1/routes/audit", ""},
		{"PUT", "/v1/buses/ops", `{}`},
		{"DELETE", "/v1/buses/ops", ""},
	} {
		status, _, body := doWith(t, req.method, base+req.path, req.body, nil)
		if status != http.StatusConflict || !strings.Contains(body, "config file") {
			t.Errorf("%s %s: %d %s; want 409 saying it comes from the config file", req.method, req.path, status, body)
		}
	}
}
