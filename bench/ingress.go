package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/httpapi"
	"github.com/eventbus-go/eventbus/router"
)

// The ingress scenario: a producer POSTs one CloudEvent in binary mode and
// waits for the 202. eventbus decodes and validates the event, matches it
// against its route and stores it on the route's in-memory channel before
// answering; the peer, a bare net/http handler, reads the body and answers.
// The difference is what eventbus's ingress costs over HTTP itself.
//
// eventbus+key is the same bus with authentication on: every request
// carries an API key, which the bus looks up and checks against the bus's
// ACL (emit for the key's group). Measured in the same rounds, its ratio
// over eventbus is what authentication costs.
//
// eventbus-nohistory is the bus with its event history off: eventbus over
// it is what recording every event for GET /v1/events costs.
func init() {
	servers["bare"] = serveBare
	servers["eventbus-ingress"] = serveBus(ingressConfig())
	servers["eventbus-ingress-key"] = serveBus(ingressKeyConfig())
	servers["eventbus-ingress-nohistory"] = serveBus(ingressNoHistoryConfig())
	register(Scenario{
		Name:    "ingress",
		About:   "POST /events, one CloudEvent in binary mode (ce-* headers, ~100-byte JSON body), until the 202",
		Workers: 64,
		Contenders: []Contender{
			{Name: "eventbus", Start: startIngressBus},
			{Name: "bare", Start: startBare},
			{Name: "eventbus+key", Start: startIngressBusWithKey},
			{Name: "eventbus-nohistory", Start: startIngressBusWithoutHistory},
		},
		Compare: [][2]int{{2, 0}},
	})
}

// envBenchKey passes the bench's API key to the bus child, as a config's
// key_env would.
const envBenchKey = "EVENTBUS_BENCH_API_KEY"

// benchKey is the API key of eventbus+key, made once per run and put in
// the environment the children inherit.
var benchKey = sync.OnceValue(func() string {
	key := auth.GenerateKey()
	os.Setenv(envBenchKey, key)
	return key
})

// ingressKeyConfig is ingressConfig with authentication on: one API key in
// group producers, which the default bus's ACL lets emit.
func ingressKeyConfig() bus.Config {
	cfg := ingressConfig()
	cfg.Auth = &auth.Config{APIKeys: []auth.APIKeyConfig{{Name: "bench", KeyEnv: envBenchKey, Groups: []string{"producers"}}}}
	cfg.Buses = []router.Bus{{Name: router.DefaultBus, ACL: &auth.ACL{Emit: []auth.Grant{{Groups: []string{"producers"}}}}}}
	return cfg
}

// ingressNoHistoryConfig is ingressConfig with the event history off.
func ingressNoHistoryConfig() bus.Config {
	cfg := ingressConfig()
	cfg.History.Off = true
	return cfg
}

// ingressRoute matches every bench event. It is paused, so it stores events
// without delivering them: the window measures ingress alone, and its
// channel is sized for a whole window of it (the child is new every round).
const ingressRoute = "ingress"

const benchEventType = "bench.ingress"

func ingressConfig() bus.Config {
	return bus.Config{Routes: []router.Route{{
		Name:    ingressRoute,
		Match:   json.RawMessage(`{"type":["` + benchEventType + `"]}`),
		Backend: "mem://?max_depth=20000000&max_bytes=8589934592",
		// Never called: the route is paused.
		Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/unused"}},
		Paused: true,
	}}}
}

// serveBus runs a bus with cfg. It logs errors only, so its log costs nothing
// in the window.
func serveBus(cfg bus.Config) server {
	return func(ctx context.Context, ln net.Listener) error {
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		b, err := httpapi.New(ctx, cfg, log)
		if err != nil {
			return err
		}
		return b.Run(ctx, ln)
	}
}

// bareHandler is the least an HTTP event sink does: read the body, answer 202.
func bareHandler(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func serveBare(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /events", bareHandler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func startBare(ctx context.Context, opts StartOptions) (*Instance, error) {
	return startHTTP(ctx, "bare", opts, "", nil)
}

func startIngressBus(ctx context.Context, opts StartOptions) (*Instance, error) {
	return startHTTP(ctx, "eventbus-ingress", opts, "", probeIngressRoute)
}

func startIngressBusWithKey(ctx context.Context, opts StartOptions) (*Instance, error) {
	return startHTTP(ctx, "eventbus-ingress-key", opts, "Bearer "+benchKey(), probeIngressRoute)
}

func startIngressBusWithoutHistory(ctx context.Context, opts StartOptions) (*Instance, error) {
	return startHTTP(ctx, "eventbus-ingress-nohistory", opts, "", probeIngressRoute)
}

// startHTTP starts server name in a child, runs check (if any) on it, and
// returns an instance whose operation POSTs one bench event to its /events,
// with the Authorization header authorization unless it is empty.
func startHTTP(ctx context.Context, name string, opts StartOptions, authorization string, check func(*loadClient, string, string) error) (*Instance, error) {
	h, err := startHTTPChild(ctx, name, opts, authorization, check)
	if err != nil {
		return nil, err
	}
	return &Instance{PID: h.pid, Op: eventPoster(h.client, h.url, authorization), Stop: h.stop}, nil
}

// httpChild is a server in a child process, with a load client for its
// /events.
type httpChild struct {
	pid    int
	client *loadClient
	url    string // of /events
	stop   func() error
}

// startHTTPChild starts server name in a child and runs check (if any) on
// it, with the Authorization header authorization unless it is empty.
func startHTTPChild(ctx context.Context, name string, opts StartOptions, authorization string, check func(*loadClient, string, string) error) (*httpChild, error) {
	c, err := startChild(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	client := newLoadClient()
	h := &httpChild{pid: c.cmd.Process.Pid, client: client, url: "http://" + c.addr + "/events"}
	h.stop = func() error {
		client.closeIdleConnections()
		return c.stop()
	}
	if check != nil {
		if err := check(client, h.url, authorization); err != nil {
			return nil, errors.Join(err, h.stop())
		}
	}
	return h, nil
}

// probeIngressRoute sends one event and checks that the bus stored it on
// the bench route: otherwise a window would measure an ingress that stores
// nothing.
func probeIngressRoute(client *loadClient, url, authorization string) error {
	fill := func(req *fasthttp.Request) { fillEvent(req, "probe", authorization) }
	err := client.post(url, fill, func(status int, body []byte) error {
		var answer struct {
			Results []struct {
				Routes []string `json:"routes"`
			} `json:"results"`
		}
		if err := json.Unmarshal(body, &answer); err != nil {
			return fmt.Errorf("status %d, body: %w", status, err)
		}
		if status != http.StatusAccepted || len(answer.Results) != 1 || !slices.Equal(answer.Results[0].Routes, []string{ingressRoute}) {
			return fmt.Errorf("status %d, results %+v; want 202 and the event stored on route %q", status, answer.Results, ingressRoute)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("probe event: %w", err)
	}
	return nil
}

// benchData is the event's payload: about 100 bytes of JSON.
var benchData = []byte(`{"order":"A-100234","customer":"c-42","amount":1999,"currency":"EUR","items":3,"note":"bench payload"}`)

// eventPoster returns an operation that POSTs one event in binary mode, each
// with its own id and with authorization (if any), and expects 202.
func eventPoster(client *loadClient, url, authorization string) func(context.Context) error {
	var seq atomic.Uint64
	return func(context.Context) error {
		return postEvent(client, url, strconv.FormatUint(seq.Add(1), 10), authorization)
	}
}
