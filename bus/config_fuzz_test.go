package bus

import (
	"os"
	"path/filepath"
	"testing"
)

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
		"history: {max_events: 10, max_age: 1m}\n",
		"history: {off: true}\n",
		"history: {max_events: -1, max_age: -1s}\n",
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
