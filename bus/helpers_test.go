package bus_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/router"
)

func route(name, url string, match string) router.Route {
	r := router.Route{Name: name, Target: router.Target{HTTP: &router.HTTPTarget{URL: url}}}
	if match != "" {
		r.Match = []byte(match)
	}
	return r
}

func post(t *testing.T, url, contentType string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// newHook serves handler as an HTTP target until the test ends.
func newHook(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv.URL
}

// putRoute creates or replaces a route through the bus's API.
func putRoute(t *testing.T, b *bus.Bus, r router.Route) router.Route {
	t.Helper()
	saved, _, err := b.PutRoute(context.Background(), r, store.AnyVersion)
	if err != nil {
		t.Fatalf("PutRoute %s: %v", r.Name, err)
	}
	return saved
}
