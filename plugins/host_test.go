package plugins

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/plugins/proto"
	sdkplugin "github.com/eventbus-go/eventbus/sdk/plugin"
	"github.com/eventbus-go/eventbus/spec"
	"github.com/eventbus-go/eventbus/verdict"
)

// inProcess is a plugin served in the test's own process by
// goplugin.TestPluginGRPCConn. Killing it stops the server, once: go-plugin's
// GRPCServer.Stop is not safe to call twice.
type inProcess struct {
	client *goplugin.GRPCClient
	server *goplugin.GRPCServer
	once   sync.Once
}

func (p *inProcess) kill() {
	p.once.Do(p.server.Stop)
	_ = p.client.Close()
}

func (p *inProcess) forceKill() { p.kill() }

// inProcessHost starts a host whose plugin "p" runs h in-process; servers
// records each server started, so a test can kill one.
func inProcessHost(t testing.TB, cfg Config, h sdkplugin.Handler) (*Host, *servers) {
	t.Helper()
	srv := &servers{}
	launch := func(_ context.Context, _ Config, _ int, _ *slog.Logger) (goplugin.ClientProtocol, process, error) {
		client, server := goplugin.TestPluginGRPCConn(t, false, proto.PluginSet(sdkplugin.NewServer(h, sdkplugin.Options{Name: "inproc", Version: "1"})))
		p := &inProcess{client: client, server: server}
		srv.add(p)
		return client, p, nil
	}
	if cfg.Name == "" {
		cfg.Name = "p"
	}
	if cfg.Cmd == "" {
		cfg.Cmd = "in-process"
	}
	h2, err := newHost(t.Context(), []Config{cfg}, testLogger(t), launch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, h2) })
	return h2, srv
}

type servers struct {
	mu   sync.Mutex
	list []*inProcess
}

func (s *servers) add(p *inProcess) {
	s.mu.Lock()
	s.list = append(s.list, p)
	s.mu.Unlock()
}

func (s *servers) last() *inProcess {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list[len(s.list)-1]
}

func TestDeliverReturnsTheHandlersVerdict(t *testing.T) {
	h, _ := inProcessHost(t, Config{}, sdkplugin.HandlerFunc(func(_ context.Context, e event.Event) (sdkplugin.Result, error) {
		switch e.Type() {
		case "retry":
			return sdkplugin.Retry(3*time.Second, "busy"), nil
		case "drop":
			return sdkplugin.Drop("duplicate"), nil
		case "dead":
			return sdkplugin.DeadLetter("unknown customer"), nil
		case "error":
			return sdkplugin.Result{}, errors.New("smtp down")
		case "panic":
			panic("bug")
		case "bad-reply":
			return sdkplugin.Ack(event.New()), nil // no source, no type
		}
		return sdkplugin.Ack(), nil
	}))
	for _, tc := range []struct {
		typ    string
		want   verdict.Verdict
		after  time.Duration
		reason string
	}{
		{"ack", verdict.Ack, 0, ""},
		{"retry", verdict.Retry, 3 * time.Second, "busy"},
		{"drop", verdict.Drop, 0, "duplicate"},
		{"dead", verdict.DeadLetter, 0, "unknown customer"},
		{"error", verdict.Retry, 0, "smtp down"},
		{"panic", verdict.Retry, 0, "handler panicked: bug"},
		{"bad-reply", verdict.DeadLetter, 0, "reply 0 is not a valid CloudEvent"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			res, err := h.Deliver(t.Context(), "p", newEvent("1", tc.typ, nil))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want || res.RetryAfter != tc.after || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("result = %+v; want %s after %s with a reason saying %q", res, tc.want, tc.after, tc.reason)
			}
		})
	}
}

func TestRepliesCarryCausationAndCorrelation(t *testing.T) {
	h, _ := inProcessHost(t, Config{}, sdkplugin.HandlerFunc(func(_ context.Context, e event.Event) (sdkplugin.Result, error) {
		r := event.New()
		r.SetSource("inventory")
		r.SetType("stock.reserved")
		return sdkplugin.Ack(r), nil
	}))
	res, err := h.Deliver(t.Context(), "p", newEvent("order-1", "order.created", nil))
	if err != nil || len(res.Replies) != 1 {
		t.Fatalf("Deliver = %+v, %v; want one reply", res, err)
	}
	r := res.Replies[0]
	if r.ID() == "" || r.Extensions()[ExtCausationID] != "order-1" || r.Extensions()[ExtCorrelationID] != "order-1" {
		t.Errorf("reply = %s; want an id, causationid and correlationid order-1 (the first event of the chain)", r)
	}
}

func TestDeliverToUnknownPluginIsAnError(t *testing.T) {
	h, _ := inProcessHost(t, Config{}, sdkplugin.HandlerFunc(func(context.Context, event.Event) (sdkplugin.Result, error) { return sdkplugin.Ack(), nil }))
	if h.Has("nope") {
		t.Error("Has(nope) = true")
	}
	if _, err := h.Deliver(t.Context(), "nope", newEvent("1", "t", nil)); err == nil || !strings.Contains(err.Error(), `no plugin "nope"`) {
		t.Errorf("Deliver to an unknown plugin = %v; want an error naming it", err)
	}
}

// When the plugin's server dies, what was in flight fails with an error
// (for the bus to redeliver) and the instance comes back.
func TestCrashFailsWhatIsInFlightAndRestarts(t *testing.T) {
	release := make(chan struct{})
	h, srv := inProcessHost(t, Config{}, sdkplugin.HandlerFunc(func(ctx context.Context, e event.Event) (sdkplugin.Result, error) {
		if e.Type() == "block" {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return sdkplugin.Ack(), nil
	}))
	defer close(release)
	const n = 50
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := h.Deliver(t.Context(), "p", newEvent(string(rune('a'+i)), "block", nil))
			errs <- err
		}()
	}
	testkit.Eventually(t, 5*time.Second, "50 deliveries in flight", func() bool {
		st, _ := h.Stats("p")
		return st.InFlight == n
	})
	srv.last().forceKill()
	for range n {
		if err := <-errs; err == nil || !strings.Contains(err.Error(), "deliver the event again") {
			t.Fatalf("delivery in flight to a crashed plugin = %v; want an error saying to deliver again", err)
		}
	}
	testkit.Eventually(t, 5*time.Second, "the instance restarted", func() bool {
		st, _ := h.Stats("p")
		return st.Restarts == 1 && st.Ready == 1
	})
	if res, err := h.Deliver(t.Context(), "p", newEvent("z", "ok", nil)); err != nil || res.Verdict != verdict.Ack {
		t.Fatalf("after the restart: %+v, %v; want an ack", res, err)
	}
}

func TestShutdownIsIdempotentAndStopsDeliveries(t *testing.T) {
	h, _ := inProcessHost(t, Config{Instances: 3}, sdkplugin.HandlerFunc(func(context.Context, event.Event) (sdkplugin.Result, error) { return sdkplugin.Ack(), nil }))
	if st, _ := h.Stats("p"); st.Ready != 3 {
		t.Fatalf("stats = %+v; want 3 instances ready", st)
	}
	shutdown(t, h)
	shutdown(t, h)
	if _, err := h.Deliver(t.Context(), "p", newEvent("1", "t", nil)); err == nil {
		t.Error("Deliver after Shutdown succeeded; want an error")
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	err := Config{Name: "bad name", Instances: -1, Timeout: spec.Duration(-time.Second)}.Validate()
	for _, want := range []string{"name: \"bad name\"", "cmd: is required", "instances: must be between 0 and 64", "timeout: must not be negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v; want it to say %q", err, want)
		}
	}
	_, err = NewHost(t.Context(), []Config{{Name: "a", Cmd: "x"}, {Name: "a", Cmd: "y"}}, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), `plugins[1].name: "a" is already the name of plugins[0]`) {
		t.Errorf("NewHost with a duplicate name = %v; want the path of the second", err)
	}
}

func TestPluginLogsReachSlogWithLevelAndAttributes(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Named("mailer").With("instance", 0).Warn("smtp slow", "ms", 900)
	l.Debug("not shown")
	got := buf.String()
	for _, want := range []string{"level=WARN", `msg="smtp slow"`, "logger=mailer", "instance=0", "ms=900"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "not shown") || l.IsDebug() {
		t.Errorf("debug reached an info logger: %q", got)
	}
}

// silentServer reads deliveries and answers none: a plugin that hangs
// without its process stopping.
type silentServer struct {
	proto.UnimplementedHandlerServer
}

func (silentServer) Describe(context.Context, *proto.DescribeRequest) (*proto.DescribeResponse, error) {
	return &proto.DescribeResponse{Name: "silent"}, nil
}

func (silentServer) Deliver(stream proto.Handler_DeliverServer) error {
	for {
		if _, err := stream.Recv(); err != nil {
			return nil
		}
	}
}

// The hang sweep measures each delivery's own deadline: a delivery whose
// caller gave up leaves the sweep, so it does not cut short the wait of
// the next one, and that one is still found hung within the timeout.
func TestUnansweredDeliveryIsHungAtItsOwnDeadline(t *testing.T) {
	const timeout = 400 * time.Millisecond
	launch := func(_ context.Context, _ Config, _ int, _ *slog.Logger) (goplugin.ClientProtocol, process, error) {
		client, server := goplugin.TestPluginGRPCConn(t, false, proto.PluginSet(silentServer{}))
		return client, &inProcess{client: client, server: server}, nil
	}
	h, err := newHost(t.Context(), []Config{{Name: "p", Cmd: "in-process", Timeout: spec.Duration(timeout)}}, testLogger(t), launch)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, h)

	ctx, cancel := context.WithTimeout(t.Context(), timeout/2)
	defer cancel()
	if _, err := h.Deliver(ctx, "p", newEvent("given-up", "t", nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Deliver with a short ctx = %v; want the ctx's error", err)
	}
	start := time.Now()
	_, err = h.Deliver(t.Context(), "p", newEvent("waits", "t", nil))
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "hung") || !strings.Contains(err.Error(), "deliver the event again") {
		t.Fatalf("unanswered delivery = %v; want an error saying the plugin hung and to deliver again", err)
	}
	// Found earlier, the sweep used the given-up delivery's deadline; found
	// a whole timeout late, it does not watch each delivery's own. Between
	// the two, a loaded machine's scheduling delay is no fault.
	if took < timeout-50*time.Millisecond || took > 2*timeout {
		t.Errorf("hang found after %s; want at the delivery's own deadline, %s (the given-up delivery's deadline must not count)", took, timeout)
	}
	testkit.Eventually(t, 5*time.Second, "the hung instance replaced", func() bool {
		st, _ := h.Stats("p")
		return st.Restarts == 1 && st.Ready == 1
	})
}
