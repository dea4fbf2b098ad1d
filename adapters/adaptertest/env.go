package adaptertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/internal/testkit"
)

// env is one subtest's backend and the helpers that clean up after it.
type env struct {
	b    *adapters.Backend
	caps adapters.Capabilities
}

// open connects to a fresh backend and closes it when t ends.
func open(t *testing.T, h Harness) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	d, err := h.Open(ctx)
	if err != nil {
		t.Fatalf("Harness.Open: %v (the suite needs a reachable backend)", err)
	}
	b, err := adapters.New(d)
	if err != nil {
		_ = d.Close()
		t.Fatalf("adapters.New: %v (a driver's Capabilities must match the optional interfaces it implements)", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Backend.Close: %v", err)
		}
	})
	return &env{b: b, caps: b.Capabilities()}
}

// ctx is a context bounded for one step of a test.
func stepCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), settleTimeout)
	t.Cleanup(cancel)
	return ctx
}

// channel provisions a channel with a unique name, deleted when t ends. The
// name uses only lowercase letters, digits and dashes, which every backend
// accepts.
func (e *env) channel(t *testing.T) string {
	t.Helper()
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := "adaptertest-" + strings.ToLower(hex.EncodeToString(r[:]))
	if err := e.b.EnsureChannel(stepCtx(t), name); err != nil {
		t.Fatalf("EnsureChannel(%q): %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
		defer cancel()
		if err := e.b.DeleteChannel(ctx, name); err != nil {
			t.Errorf("cleanup: DeleteChannel(%q): %v", name, err)
		}
	})
	return name
}

// sendTo opens a channel for sending, shut down when t ends.
func (e *env) sendTo(t *testing.T, channel string) *adapters.Channel {
	t.Helper()
	c, err := e.b.OpenChannel(stepCtx(t), channel)
	if err != nil {
		t.Fatalf("OpenChannel(%q): %v", channel, err)
	}
	t.Cleanup(func() { shutdown(t, "channel", c.Shutdown) })
	return c
}

func (e *env) subscription(t *testing.T, channel string, opts adapters.SubscriptionOptions) *adapters.Subscription {
	t.Helper()
	sub, err := e.b.OpenSubscription(stepCtx(t), channel, opts)
	if err != nil {
		t.Fatalf("OpenSubscription(%q): %v", channel, err)
	}
	t.Cleanup(func() { shutdown(t, "subscription", sub.Shutdown) })
	return sub
}

// shutdown shuts a channel, topic or subscription down at cleanup; one the
// test has shut down already answers nil again.
func shutdown(t *testing.T, what string, f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		t.Errorf("cleanup: %s Shutdown: %v", what, err)
	}
}

// message is a minimal CloudEvent in canonical form, identified by id.
func message(id string, body []byte) *adapters.Message {
	return &adapters.Message{
		Body: body,
		Metadata: map[string]string{
			"specversion": "1.0",
			"id":          id,
			"source":      "/adaptertest",
			"type":        "dev.eventbus.adaptertest",
		},
	}
}

func send(t *testing.T, top *adapters.Channel, ms ...*adapters.Message) {
	t.Helper()
	for _, m := range ms {
		if err := top.Send(stepCtx(t), m); err != nil {
			t.Fatalf("Send(id %s): %v (a publish the backend refuses is an event the bus cannot accept)", m.Metadata["id"], err)
		}
	}
}

// sendIDs publishes one minimal message per id, in order.
func sendIDs(t *testing.T, top *adapters.Channel, ids ...string) {
	t.Helper()
	for _, id := range ids {
		send(t, top, message(id, []byte(id)))
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

// receive waits for the next message; a message that does not come within
// receiveTimeout is a lost one.
func receive(t *testing.T, sub *adapters.Subscription, why string) *adapters.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), receiveTimeout)
	defer cancel()
	m, err := sub.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v; expected a message within %v: %s", err, receiveTimeout, why)
	}
	return m
}

// depthIs polls until the channel's depth is want.
func (e *env) depthIs(t *testing.T, channel string, want int64, why string) {
	t.Helper()
	testkit.EventuallyNoError(t, settleTimeout, func() error {
		got, err := e.b.Depth(stepCtx(t), channel)
		if err != nil {
			return fmt.Errorf("Depth(%q): %w", channel, err)
		}
		if got != want {
			return fmt.Errorf("Depth(%q) = %d, want %d: %s", channel, got, want, why)
		}
		return nil
	})
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, what string, err error, code errcode.Code, why string) {
	t.Helper()
	if got := errcode.Of(err); err == nil || got != code {
		t.Fatalf("%s: got error %v (code %v), want code %v: %s", what, err, got, code, why)
	}
}
