package adaptertest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
)

// Server is the real server a backend's tests run against, named by an
// environment variable as scripts/test.sh sets it.
type Server struct {
	Env     string // names its URL, such as EVENTBUS_TEST_NATS
	Default string // the URL when Env is unset; empty: there is none
	Start   string // how to get one, for the message when there is none
	// Open, when set, must reach the server: one that does not answer
	// counts as missing.
	Open adapters.Opener
}

// URL returns the server's URL. When there is none, or it does not answer,
// the test skips, except under CI=true, where it fails: CI tests against
// the real thing.
func (s Server) URL(t testing.TB) *url.URL {
	t.Helper()
	raw := os.Getenv(s.Env)
	if raw == "" {
		raw = s.Default
	}
	if raw == "" {
		s.missing(t, fmt.Sprintf("%s is not set", s.Env))
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", s.Env, err)
	}
	if s.Open != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, err := s.Open(ctx, u)
		if err != nil {
			s.missing(t, fmt.Sprintf("%s does not answer: %v", adapters.Redact(raw), err))
		}
		_ = d.Close()
	}
	return u
}

func (s Server) missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: CI must test against a real server (%s)", why, s.Start)
	}
	t.Skipf("%s (%s, or set %s)", why, s.Start, s.Env)
}

// OpenChannel opens a backend with open, wrapped as the bus wraps it, and
// a fresh channel on it whose name starts with prefix; the test's end
// removes the channel and closes both.
func OpenChannel(t testing.TB, open func(context.Context) (adapters.Driver, error), prefix string) (*adapters.Backend, string, *adapters.Channel) {
	t.Helper()
	ctx := t.Context()
	d, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := adapters.New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ch := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	if err := b.EnsureChannel(ctx, ch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.DeleteChannel(context.Background(), ch) })
	top, err := b.OpenChannel(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = top.Shutdown(context.Background()) })
	return b, ch, top
}
