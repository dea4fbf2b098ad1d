package rabbitmq_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
	"github.com/eventbus-go/eventbus/adapters/rabbitmq"
)

// brokerURL is the broker the tests use, from EVENTBUS_TEST_RABBIT: a
// backend URL (rabbit://guest:guest@127.0.0.1:5672/) or the same address as
// amqp://. Unset, the tests skip, except under CI=true, where a missing
// broker is a failure.
func brokerURL(t *testing.T, query string) *url.URL {
	t.Helper()
	raw := os.Getenv("EVENTBUS_TEST_RABBIT")
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("EVENTBUS_TEST_RABBIT is not set: CI must test against a real RabbitMQ (e.g. rabbit://guest:guest@127.0.0.1:5672/)")
		}
		t.Skip("EVENTBUS_TEST_RABBIT is not set (e.g. rabbit://guest:guest@127.0.0.1:5672/)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("EVENTBUS_TEST_RABBIT: %v", err)
	}
	if u.Scheme == "amqp" {
		u.Scheme = rabbitmq.Scheme
	}
	u.RawQuery = query
	return u
}

func TestConformance(t *testing.T) {
	u := brokerURL(t, "max_message_bytes=1048576")
	h := adaptertest.Harness{
		Open: func(ctx context.Context) (adapters.Backend, error) { return rabbitmq.Open(ctx, u) },
	}
	// Stopping the broker disturbs anything else using it, so the outage
	// test runs only when asked for.
	if os.Getenv("EVENTBUS_TEST_RABBIT_CTL") == "1" {
		h.Outage = &adaptertest.Outage{
			Stop:  rabbitmqctl("stop_app"),
			Start: rabbitmqctl("start_app", "await_startup"),
		}
	}
	adaptertest.Run(t, h)
}

// rabbitmqctl returns a hook that runs each rabbitmqctl command in turn.
func rabbitmqctl(commands ...string) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, c := range commands {
			if out, err := exec.CommandContext(ctx, "rabbitmqctl", c).CombinedOutput(); err != nil {
				return &ctlError{command: c, out: strings.TrimSpace(string(out)), err: err}
			}
		}
		return nil
	}
}

type ctlError struct {
	command, out string
	err          error
}

func (e *ctlError) Error() string { return "rabbitmqctl " + e.command + ": " + e.err.Error() + ": " + e.out }
