package nats_test

import (
	"net/url"
	"testing"

	"github.com/eventbus-go/eventbus/adapters/nats"
)

// BenchmarkEmbeddedOpenAndClose is the startup cost of serve's default
// backend: start an embedded server on an empty store, connect, check
// JetStream, and shut it down.
func BenchmarkEmbeddedOpenAndClose(b *testing.B) {
	for b.Loop() {
		u := &url.URL{Scheme: nats.SchemeEmbedded, RawQuery: "dir=" + url.QueryEscape(b.TempDir())}
		d, err := nats.OpenEmbedded(b.Context(), u)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
