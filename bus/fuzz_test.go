package bus

import (
	"bytes"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeRequest feeds arbitrary headers and bodies to the ingress
// decoder in all three content modes: it must never panic, must give each
// event either an event or an error (a 4xx), and an event it accepts in
// binary mode must survive the way out: written as binary-mode headers, as
// to an HTTP target, and read back, it keeps its id, source and type.
func FuzzDecodeRequest(f *testing.F) {
	binary := "Ce-Specversion: 1.0\nCe-Id: 1\nCe-Source: /s\nCe-Type: t\n"
	for _, seed := range []struct{ contentType, headers, body string }{
		{"application/json", binary, `{"hi":1}`},
		{"text/plain", binary + "Ce-Myext: caf%C3%A9\nCe-Time: 2024-01-02T03:04:05Z\n", `x`},
		{"application/json", "Ce-Specversion: 0.3\nCe-Id: 1\n", ``},
		{"application/json", binary + "Ce-Bad%ZZ: x\nCe-Datacontenttype: a/b\n", ``},
		{mediaStructured, "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}`},
		{mediaStructured + "; charset=utf-8", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAEC","ext":"v"}`},
		{mediaStructured, "", `{"specversion":"1.0","id":1}`},
		{mediaBatch, "", `[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"id":2},"x",null]`},
		{mediaBatch, "", `[]`},
		{"application/cloudevents+xml", "", `<e/>`},
		{"", "", ``},
	} {
		f.Add(seed.contentType, seed.headers, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, contentType, headerLines string, body []byte) {
		h := http.Header{}
		for line := range strings.SplitSeq(headerLines, "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if ok && k != "" {
				h.Add(textproto.CanonicalMIMEHeaderKey(k), v)
			}
		}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		events, reqErr := decodeRequest(h, body)
		if reqErr != nil {
			if reqErr.status < 400 || reqErr.status > 499 {
				t.Fatalf("a request-level refusal with status %d: malformed input is the client's fault, a 4xx", reqErr.status)
			}
			return
		}
		if len(events) == 0 {
			t.Fatal("decodeRequest returned neither events nor an error: the request would be answered with nothing")
		}
		for i, d := range events {
			if (d.event == nil) == (d.err == nil) {
				t.Fatalf("event %d: event %v and error %v; want exactly one", i, d.event, d.err)
			}
			if d.err != nil && (d.err.status < 400 || d.err.status > 499) {
				t.Fatalf("event %d refused with status %d, want a 4xx", i, d.err.status)
			}
		}
		if !hasCloudEventsHeaders(h) || events[0].event == nil || strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "application/cloudevents") {
			return
		}
		e := events[0].event
		out := http.Header{}
		if err := writeBinary(out, e); err != nil {
			t.Fatalf("an accepted event cannot be written in binary mode: %v", err)
		}
		back, err := readBinary(out, e.Data())
		if err != nil {
			t.Fatalf("an accepted event, written in binary mode, does not read back: %v\nheaders %v", err, out)
		}
		if back.ID() != e.ID() || back.Source() != e.Source() || back.Type() != e.Type() || !bytes.Equal(back.Data(), e.Data()) {
			t.Fatalf("binary round trip changed the event: %v became %v", e, back)
		}
	})
}

// FuzzParseConfig feeds arbitrary YAML to the config parser: it must
// return a config or an error, never panic, and a config it accepts must
// still be valid once its defaults are filled in.
func FuzzParseConfig(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/*/bus.yaml")
	seeds = append(seeds, "../test/conformance/eventbus.yaml")
	for _, path := range seeds {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	for _, seed := range []string{
		"addr: 127.0.0.1:0\nmax_body_bytes: 1024\n",
		"tls: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem, client_auth: verify_if_given}\n",
		"http: {max_header_bytes: 4096, max_header_count: 10, max_connections: 1, read_header_timeout: 1s, idle_timeout: 1m}\n",
		"dedup: {window: 1m, max_events: 10}\nshutdown_timeout: 5s\n",
		"buses: [{name: shop}]\nroutes:\n  - name: r\n    bus: shop\n    match: {type: [{prefix: a.}]}\n    target: {http: {url: 'http://127.0.0.1:9/'}}\n",
		"routes: [{name: r, target: {topic: {url: 'mem://', name: t}}}]\n",
		"plugins: [{name: p, command: [/bin/true]}]\n",
		"routes: [{name: r}, {name: r}]\n",
		"shutdown_timeout: -1s\n",
		"{",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := parseConfig(b)
		if err != nil {
			return
		}
		if err := cfg.WithDefaults().Validate(); err != nil {
			t.Fatalf("a config accepted as written is refused with its defaults filled in: %v", err)
		}
	})
}
