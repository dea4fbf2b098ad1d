package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"

	"github.com/eventbus-go/eventbus/spec"
)

// Defaults of HTTPConfig's zero fields.
const (
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxHeaderCount    = 100
	DefaultMaxConnections    = 4096
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 5 * time.Minute
	DefaultWriteTimeout      = 5 * time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
)

// HTTPConfig bounds what one client can hold of the HTTP server. Zero
// fields mean the defaults above.
//
// ReadTimeout bounds reading a whole request, body included, and
// WriteTimeout everything after its headers up to the end of the answer.
// Go's server also ends a request's context once ReadTimeout has passed, so
// together they bound the longest call: a redrive walks a route's whole
// dead-letter queue before it answers, hence minutes rather than seconds.
// MaxConnections makes further clients wait in the kernel's accept queue
// rather than be served.
type HTTPConfig struct {
	MaxHeaderBytes    int           `json:"max_header_bytes,omitempty"`
	MaxHeaderCount    int           `json:"max_header_count,omitempty"`
	MaxConnections    int           `json:"max_connections,omitempty"`
	ReadHeaderTimeout spec.Duration `json:"read_header_timeout,omitzero"`
	ReadTimeout       spec.Duration `json:"read_timeout,omitzero"`
	WriteTimeout      spec.Duration `json:"write_timeout,omitzero"`
	IdleTimeout       spec.Duration `json:"idle_timeout,omitzero"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c HTTPConfig) WithDefaults() HTTPConfig {
	orDefault := func(d *spec.Duration, def time.Duration) {
		if *d == 0 {
			*d = spec.Duration(def)
		}
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxHeaderCount == 0 {
		c.MaxHeaderCount = DefaultMaxHeaderCount
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	orDefault(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	orDefault(&c.ReadTimeout, DefaultReadTimeout)
	orDefault(&c.WriteTimeout, DefaultWriteTimeout)
	orDefault(&c.IdleTimeout, DefaultIdleTimeout)
	return c
}

// Validate reports negative limits, naming each field.
func (c HTTPConfig) Validate() error {
	var errs []error
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"max_header_bytes", int64(c.MaxHeaderBytes)},
		{"max_header_count", int64(c.MaxHeaderCount)},
		{"max_connections", int64(c.MaxConnections)},
		{"read_header_timeout", int64(c.ReadHeaderTimeout)},
		{"read_timeout", int64(c.ReadTimeout)},
		{"write_timeout", int64(c.WriteTimeout)},
		{"idle_timeout", int64(c.IdleTimeout)},
	} {
		if f.value < 0 {
			errs = append(errs, &spec.FieldError{Path: "http." + f.name, Message: "must not be negative (zero means the default)"})
		}
	}
	return errors.Join(errs...)
}

// newServer returns the HTTP server of the API with c's limits, and the
// listener it must serve: ln bounded to c.MaxConnections. The server's own
// complaints (failed TLS handshakes, broken connections) go to log.
func newServer(c HTTPConfig, h http.Handler, ln net.Listener, log *slog.Logger) (*http.Server, net.Listener) {
	srv := &http.Server{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelInfo),
		Handler:           limitHeaderCount(c.MaxHeaderCount, h),
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ReadHeaderTimeout: time.Duration(c.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(c.ReadTimeout),
		WriteTimeout:      time.Duration(c.WriteTimeout),
		IdleTimeout:       time.Duration(c.IdleTimeout),
	}
	return srv, netutil.LimitListener(ln, c.MaxConnections)
}

// limitHeaderCount answers 431 to a request with more than max header
// lines. MaxHeaderBytes bounds their size; this bounds the work of
// requests made of many tiny headers.
func limitHeaderCount(max int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		for _, vs := range r.Header {
			n += len(vs)
		}
		if n > max {
			w.Header().Set("Connection", "close")
			writeError(w, &apiError{Code: codeTooLarge, status: http.StatusRequestHeaderFieldsTooLarge,
				Message: fmt.Sprintf("the request has %d header lines, more than the %d this bus takes (http.max_header_count)", n, max)})
			return
		}
		next.ServeHTTP(w, r)
	})
}
