package httpapi

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/metrics"
)

// Server is a bus with its HTTP API. Create it with New, serve it with Run.
type Server struct {
	*bus.Bus
	log *slog.Logger
	// tls is the listener's TLS config; nil serves plain HTTP.
	tls *tls.Config
	// metrics are served on GET /metrics; the ingress counts into them.
	metrics *metrics.Registry
	// streaming ends when Run begins to shut down, ending the live tails,
	// which would otherwise hold the shutdown until its timeout; nil
	// outside Run.
	streaming context.Context
	// draining is set when Run begins to shut down: /readyz answers 503
	// from then on, so load balancers send elsewhere.
	draining atomic.Bool
}

// New starts a bus with cfg (bus.New) after loading the files of its TLS
// config, so a bad certificate stops it before anything starts.
func New(ctx context.Context, cfg bus.Config, log *slog.Logger) (*Server, error) {
	tlsConfig, err := newServerTLS(cfg.TLS, log)
	if err != nil {
		return nil, err
	}
	b, err := bus.New(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return &Server{Bus: b, log: log, tls: tlsConfig, metrics: metrics.New(b, metrics.Options{})}, nil
}

// Run serves the HTTP API on ln (over TLS when the config's tls says so,
// within the limits of its http section) until ctx ends, then shuts down in order:
// /readyz answers 503 (for the config's shutdown_delay, while ingress still
// takes events), ingress stops taking events, dispatchers finish (draining
// in-memory channels), then channels and backends close. It returns once
// all is stopped.
func (b *Server) Run(ctx context.Context, ln net.Listener) error {
	cfg := b.Config()
	streaming, stopStreaming := context.WithCancel(context.Background())
	defer stopStreaming()
	b.streaming = streaming
	srv, ln := newServer(cfg.HTTP, b.Handler(), ln, b.log)
	srv.RegisterOnShutdown(stopStreaming)
	served := make(chan error, 2)
	var lane *fastLane
	if b.tls != nil {
		srv.TLSConfig = b.tls
		go func() { served <- srv.ServeTLS(ln, "", "") }()
	} else {
		lane = b.newFastLane(cfg.HTTP, ln)
		go func() { served <- lane.fast.Serve(retryingListener{ln, b.log}) }()
		go func() { served <- srv.Serve(lane.handoff) }()
	}
	var err error
	select {
	case <-ctx.Done():
		b.draining.Store(true)
		if delay := time.Duration(cfg.ShutdownDelay); delay > 0 {
			b.log.Info("shutting down: not ready, still taking events", "delay", delay)
			wait := time.NewTimer(delay)
			select {
			case <-wait.C:
			case err = <-served:
				wait.Stop()
			}
		}
	case err = <-served:
	}
	b.draining.Store(true)
	b.log.Info("shutting down: ingress closed, draining deliveries", "timeout", time.Duration(cfg.ShutdownTimeout))
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
	defer cancel()
	if lane != nil {
		if serr := lane.fast.ShutdownWithContext(shutCtx); serr != nil {
			err = errors.Join(err, fmt.Errorf("stopping ingress: %w", serr))
		}
	}
	if serr := srv.Shutdown(shutCtx); serr != nil {
		err = errors.Join(err, fmt.Errorf("stopping ingress: %w", serr))
	}
	if serr := b.Shutdown(shutCtx); serr != nil {
		err = errors.Join(err, serr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// newServer returns the HTTP server of the API with c's limits, and the
// listener it must serve: ln bounded to c.MaxConnections. The server's own
// complaints (failed TLS handshakes, broken connections) go to log.
func newServer(c bus.HTTPConfig, h http.Handler, ln net.Listener, log *slog.Logger) (*http.Server, net.Listener) {
	srv := &http.Server{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelInfo),
		Handler:           checkHeaders(c.MaxHeaderCount, h),
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ReadHeaderTimeout: time.Duration(c.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(c.ReadTimeout),
		WriteTimeout:      time.Duration(c.WriteTimeout),
		IdleTimeout:       time.Duration(c.IdleTimeout),
	}
	return srv, netutil.LimitListener(ln, c.MaxConnections)
}

// checkHeaders answers 431 to a request with more than max header lines,
// and 400 to one with two different Content-Type headers, as the fast
// server does (fastLane). MaxHeaderBytes bounds the headers' size; this
// bounds the work of requests made of many tiny headers.
func checkHeaders(max int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ae := cmp.Or(tooManyHeaders(r.Header, max), twoContentTypes(r.Header)); ae != nil {
			w.Header().Set("Connection", "close")
			writeError(w, ae)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errTwoContentTypes refuses a request with two different Content-Type
// headers: HTTP allows one, and which the sender meant cannot be told.
var errTwoContentTypes = &apiError{Code: "invalid_argument", status: http.StatusBadRequest,
	Message: "the request has two different Content-Type headers: send one"}

// twoContentTypes is errTwoContentTypes when h has two different
// Content-Type values, else nil.
func twoContentTypes(h http.Header) *apiError {
	vs := h["Content-Type"]
	for _, v := range vs[min(1, len(vs)):] {
		if v != vs[0] {
			return errTwoContentTypes
		}
	}
	return nil
}

// tooManyHeaders is the error of a request with more than max header
// lines, or nil.
func tooManyHeaders(h http.Header, max int) *apiError {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	if n <= max {
		return nil
	}
	return &apiError{Code: codeTooLarge, status: http.StatusRequestHeaderFieldsTooLarge,
		Message: fmt.Sprintf("the request has %d header lines, more than the %d this bus takes (http.max_header_count)", n, max)}
}
