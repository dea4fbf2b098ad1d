package bus_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

func TestOversizedHeaderIsRefusedWith431(t *testing.T) {
	base := bustest.Start(t, bus.Config{HTTP: bus.HTTPConfig{MaxHeaderBytes: 1024}}).URL
	// Go's server allows 4 KiB over MaxHeaderBytes before it refuses.
	resp, _ := post(t, base+"/events", "application/json", binaryHeaders(map[string]string{
		"ce-id": "big", "ce-padding": strings.Repeat("x", 8<<10),
	}), `{}`)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("headers of 8 KiB with http.max_header_bytes 1024: status %d, want 431", resp.StatusCode)
	}
}

func TestTooManyHeadersAreRefusedWith431(t *testing.T) {
	base := bustest.Start(t, bus.Config{HTTP: bus.HTTPConfig{MaxHeaderCount: 20}}).URL
	headers := binaryHeaders(map[string]string{"ce-id": "many"})
	for i := range 30 {
		headers[fmt.Sprintf("ce-ext%d", i)] = "v"
	}
	resp, body := post(t, base+"/events", "application/json", headers, `{}`)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a request of over 30 headers with http.max_header_count 20: status %d, want 431", resp.StatusCode)
	}
	if !strings.Contains(body, "http.max_header_count") {
		t.Fatalf("the 431 answer %s must name http.max_header_count, the setting a legitimate client would ask to raise", body)
	}
	resp, body = post(t, base+"/events", "application/json", binaryHeaders(map[string]string{"ce-id": "few"}), `{}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("an ordinary event under the header limit: status %d (%s), want 202", resp.StatusCode, body)
	}
}

func TestSlowLorisClientIsCutOff(t *testing.T) {
	base := bustest.Start(t, bus.Config{HTTP: bus.HTTPConfig{ReadHeaderTimeout: spec.Duration(200 * time.Millisecond)}}).URL
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers begun and never finished.
	if _, err := io.WriteString(conn, "POST /events HTTP/1.1\r\nHost: bus\r\nce-id: 1\r\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a client that never finished its headers still held its connection after 10s; http.read_header_timeout is 200ms")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("the bus cut off the slow client after %v, long past http.read_header_timeout 200ms", waited)
	}
}

func TestConnectionsBeyondTheLimitWaitForAFreeOne(t *testing.T) {
	base := bustest.Start(t, bus.Config{HTTP: bus.HTTPConfig{MaxConnections: 1}}).URL
	addr := strings.TrimPrefix(base, "http://")
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := io.WriteString(first, "GET /healthz HTTP/1.1\r\nHost: bus\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.ReadResponse(bufio.NewReader(first), nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the first connection must be served: %v", err)
	}

	// The first connection is kept alive: a second one must not be served.
	second := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := second.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a second connection was served while http.max_connections 1 was taken")
	}

	first.Close()
	testkit.Eventually(t, 10*time.Second, "a connection to be served once the first closed", func() bool {
		resp, err := second.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func TestNegativeHTTPLimitsAreRefused(t *testing.T) {
	err := bus.Config{HTTP: bus.HTTPConfig{MaxConnections: -1, IdleTimeout: spec.Duration(-time.Second)}}.Validate()
	for _, field := range []string{"http.max_connections", "http.idle_timeout"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate: %v; want an error naming %s", err, field)
		}
	}
}

// A client may send events and API calls on one connection, one after
// another or pipelined: events are answered by the bus's fast ingress,
// which hands the connection to the rest of the API on the first other
// call. Every request must be answered, in order, once.
func TestOneConnectionCarriesEventsAndAPICallsInOrder(t *testing.T) {
	b := bustest.Start(t, bus.Config{Routes: []router.Route{{
		Name: "r", Match: json.RawMessage(`{"type":["t"]}`), Backend: "mem://",
		Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/unused"}}, Paused: true,
	}}})
	conn, err := net.Dial("tcp", strings.TrimPrefix(b.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	event := func(id string) string {
		return "POST /events HTTP/1.1\r\nHost: bus\r\nCe-Specversion: 1.0\r\nCe-Id: " + id +
			"\r\nCe-Source: /s\r\nCe-Type: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	}
	pattern := `{"match":{"type":["t"]},"event":{"type":"t","source":"/s","id":"x"}}`
	requests := []struct{ raw, want string }{
		{event("1"), `"id":"1"`},
		{"GET /v1/routes/r HTTP/1.1\r\nHost: bus\r\n\r\n", `"name":"r"`},
		{event("2"), `"id":"2"`},
		// A body announced with Expect: 100-continue, to the API.
		{"POST /v1/test-pattern HTTP/1.1\r\nHost: bus\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(pattern), pattern), `"matched":true`},
		{event("3"), `"id":"3"`},
	}
	read := bufio.NewReader(conn)
	check := func(i int) {
		t.Helper()
		resp, err := http.ReadResponse(read, nil)
		for err == nil && resp.StatusCode == http.StatusContinue {
			resp, err = http.ReadResponse(read, nil)
		}
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode >= 300 || !strings.Contains(string(body), requests[i].want) {
			t.Fatalf("request %d (%.40q): status %d, body %s (%v); want 2xx with %s", i, requests[i].raw, resp.StatusCode, body, err, requests[i].want)
		}
	}
	// One after another.
	for i, r := range requests {
		if _, err := io.WriteString(conn, r.raw); err != nil {
			t.Fatal(err)
		}
		check(i)
	}
	// All at once, on a new connection.
	conn2, err := net.Dial("tcp", strings.TrimPrefix(b.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	read = bufio.NewReader(conn2)
	var all strings.Builder
	for _, r := range requests {
		all.WriteString(strings.Replace(r.raw, "Ce-Id: ", "Ce-Id: p", 1))
	}
	if _, err := io.WriteString(conn2, all.String()); err != nil {
		t.Fatal(err)
	}
	for i := range requests {
		requests[i].want = strings.Replace(requests[i].want, `"id":"`, `"id":"p`, 1)
		check(i)
	}
}

func TestABodyOverEveryLimitIsRefusedWith413(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	big := `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"` + strings.Repeat("x", 3<<20) + `"}`
	resp, body := post(t, base+"/events", "application/cloudevents+json", nil, big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "max_body_bytes") {
		t.Fatalf("an event of 3 MiB with the default max_body_bytes of 1 MiB: status %d, body %.200s; want 413 naming max_body_bytes", resp.StatusCode, body)
	}
	resp, body = post(t, base+"/v1/test-pattern", "application/json", nil, big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"too_large"`) {
		t.Fatalf("an API call of 3 MiB: status %d, body %.200s; want 413 too_large", resp.StatusCode, body)
	}
}

// HTTP allows one Content-Type: a request with two that differ is refused,
// saying so, rather than read as one of them.
func TestTwoDifferentContentTypesAreRefused(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`
	if _, err := fmt.Fprintf(conn, "POST /events HTTP/1.1\r\nHost: bus\r\nContent-Type: application/cloudevents+json\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(answer), "Content-Type") {
		t.Fatalf("two different Content-Type headers: %d %s; want 400 naming Content-Type", resp.StatusCode, answer)
	}
}

// An event sent to a path the fast server leaves to net/http (a bus name
// written escaped) may be as large as max_body_bytes allows, as on the
// plain path.
func TestALargeEventOnAnEscapedPathIsTakenUpToMaxBodyBytes(t *testing.T) {
	base := bustest.Start(t, bus.Config{MaxBodyBytes: 4 << 20, Routes: []router.Route{{
		Name: "r", Match: json.RawMessage(`{"type":["t"]}`), Backend: "mem://",
		Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/unused"}}, Paused: true,
	}}}).URL
	event := `{"specversion":"1.0","id":"big","source":"/s","type":"t","data":"` + strings.Repeat("x", 2<<20) + `"}`
	for _, path := range []string{"/events", "/buses/%64efault/events"} {
		resp, body := post(t, base+path, "application/cloudevents+json", nil, event)
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("a 2 MiB event to %s with max_body_bytes 4 MiB: %d %.200s; want 202", path, resp.StatusCode, body)
		}
	}
}
