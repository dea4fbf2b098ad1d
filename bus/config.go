package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/trace"
	"sigs.k8s.io/yaml"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus/history"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/plugins"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// Defaults of Config's zero fields.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultBackend         = "mem://"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultShutdownTimeout = 30 * time.Second
	DefaultDedupWindow     = 5 * time.Minute
	DefaultDedupMaxEvents  = 100_000
)

// Config is the whole configuration of a bus process, as read from its YAML
// file. Zero fields mean the defaults above.
type Config struct {
	// Addr is the listen address of the HTTP API.
	Addr string `json:"addr,omitempty"`
	// DefaultBackend is the backend URL of routes that name none.
	DefaultBackend string `json:"default_backend,omitempty"`
	// MaxBodyBytes bounds one ingress request body (an event or a batch).
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// ShutdownTimeout bounds the drain on SIGINT/SIGTERM.
	ShutdownTimeout spec.Duration `json:"shutdown_timeout,omitzero"`
	// ShutdownDelay is how long, on SIGINT/SIGTERM, /readyz answers 503
	// while ingress still takes events, before the drain begins: time for
	// a load balancer to stop sending to this replica. Zero (the default)
	// drains at once.
	ShutdownDelay spec.Duration `json:"shutdown_delay,omitzero"`
	// TLS serves the API over HTTPS, optionally asking for client
	// certificates.
	TLS TLSConfig `json:"tls,omitzero"`
	// HTTP bounds headers, connections and how long a client may take.
	HTTP HTTPConfig `json:"http,omitzero"`
	// Dedup tunes how ingress recognises a repeated (source, id).
	Dedup DedupConfig `json:"dedup,omitzero"`
	// History bounds the record of recent events behind GET /v1/events.
	History HistoryConfig `json:"history,omitzero"`
	// RuleLimits bound what one route's rule may cost.
	RuleLimits router.Limits `json:"-"`
	// DataDir keeps the buses and routes made through the API in an
	// embedded file (DataDir/eventbus.db). Store, when set, names a
	// PostgreSQL database shared by several bus replicas instead. With
	// neither, nothing is kept across restarts.
	DataDir string `json:"data_dir,omitempty"`
	Store   string `json:"store,omitempty"`
	// Buses are created at start, read-only through the API.
	Buses []router.Bus `json:"buses,omitempty"`
	// Plugins are the handler programs routes may deliver to; the bus
	// launches them at start and stops them last.
	Plugins []plugins.Config `json:"plugins,omitempty"`
	// Routes are created at start, read-only through the API.
	Routes []router.Route `json:"routes,omitempty"`
	// Tracing exports OpenTelemetry spans of ingest and delivery.
	Tracing TracingConfig `json:"tracing,omitzero"`
	// TracerProvider, set by a program that embeds the bus, records its
	// spans instead of the one Tracing configures.
	TracerProvider trace.TracerProvider `json:"-"`
	// Sources feed buses from publishers that do not speak HTTP (ZeroMQ);
	// they connect once the routes are loaded and stop first at shutdown.
	Sources []SourceConfig `json:"sources,omitempty"`
	// Clock, set by a program that embeds the bus (a test), is the clock
	// schedules fire by; nil is the system clock.
	Clock func() time.Time `json:"-"`
	// Auth, when set, requires every request but /healthz and /readyz to
	// carry an API key or a token, and applies the buses' ACLs. Without
	// it the bus is open to whoever reaches it.
	Auth *auth.Config `json:"auth,omitempty"`
}

// TracingConfig turns tracing on: spans are exported to an OTLP/HTTP
// collector at OTLPEndpoint (http://host:4318), or where the standard
// OTEL_EXPORTER_OTLP_ENDPOINT variable says when it is empty. With neither,
// tracing is off.
type TracingConfig struct {
	OTLPEndpoint string `json:"otlp_endpoint,omitempty"`
}

// DedupConfig bounds the memory of events already stored: a repeat of the
// same (source, id) on a bus within Window is answered as the first and not
// stored again. At most MaxEvents are remembered; past that the oldest are
// forgotten early.
type DedupConfig struct {
	Window    spec.Duration `json:"window,omitzero"`
	MaxEvents int           `json:"max_events,omitempty"`
}

// HistoryConfig bounds the record of what became of recent events (see
// package bus/history): at most MaxEvents, for at most MaxAge after they
// were accepted. It is on unless Off.
type HistoryConfig struct {
	MaxEvents int           `json:"max_events,omitempty"`
	MaxAge    spec.Duration `json:"max_age,omitzero"`
	Off       bool          `json:"off,omitempty"`
}

// LoadConfig reads a YAML config file. Unknown fields are errors, so a typo
// does not silently fall back to a default.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	cfg, err := parseConfig(b)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parseConfig reads and validates a config file's YAML.
func parseConfig(b []byte) (Config, error) {
	var cfg Config
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// WithDefaults returns cfg with zero fields set to their defaults.
func (cfg Config) WithDefaults() Config {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.DefaultBackend == "" {
		cfg.DefaultBackend = DefaultBackend
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = spec.Duration(DefaultShutdownTimeout)
	}
	if cfg.Dedup.Window == 0 {
		cfg.Dedup.Window = spec.Duration(DefaultDedupWindow)
	}
	if cfg.Dedup.MaxEvents == 0 {
		cfg.Dedup.MaxEvents = DefaultDedupMaxEvents
	}
	if cfg.History.MaxEvents == 0 {
		cfg.History.MaxEvents = history.DefaultMaxEvents
	}
	if cfg.History.MaxAge == 0 {
		cfg.History.MaxAge = spec.Duration(history.DefaultMaxAge)
	}
	cfg.HTTP = cfg.HTTP.WithDefaults()
	return cfg
}

// Validate checks the config, naming each field at fault by its path
// ("routes[2].target.http.url").
func (cfg Config) Validate() error {
	var errs []error
	if cfg.MaxBodyBytes < 0 {
		errs = append(errs, &spec.FieldError{Path: "max_body_bytes", Message: "must be positive"})
	}
	if cfg.ShutdownTimeout < 0 {
		errs = append(errs, &spec.FieldError{Path: "shutdown_timeout", Message: "must not be negative"})
	}
	if cfg.ShutdownDelay < 0 {
		errs = append(errs, &spec.FieldError{Path: "shutdown_delay", Message: "must not be negative"})
	}
	if cfg.Dedup.Window < 0 {
		errs = append(errs, &spec.FieldError{Path: "dedup.window", Message: "must not be negative"})
	}
	if cfg.Dedup.MaxEvents < 0 {
		errs = append(errs, &spec.FieldError{Path: "dedup.max_events", Message: "must not be negative"})
	}
	if cfg.History.MaxEvents < 0 {
		errs = append(errs, &spec.FieldError{Path: "history.max_events", Message: "must not be negative; use history.off: true to keep no history"})
	}
	if cfg.History.MaxEvents > history.MaxEventsBound {
		errs = append(errs, &spec.FieldError{Path: "history.max_events", Message: fmt.Sprintf("must be at most %d, the most events the history's index tells apart", history.MaxEventsBound)})
	}
	if cfg.History.MaxAge < 0 {
		errs = append(errs, &spec.FieldError{Path: "history.max_age", Message: "must not be negative"})
	}
	for _, err := range []error{cfg.TLS.Validate(), cfg.HTTP.Validate()} {
		if err != nil {
			errs = append(errs, spec.Flatten(err)...)
		}
	}
	pluginNames := map[string]int{}
	for i, p := range cfg.Plugins {
		prefix := fmt.Sprintf("plugins[%d]", i)
		if j, dup := pluginNames[p.Name]; dup && p.Name != "" {
			errs = append(errs, &spec.FieldError{Path: prefix + ".name", Message: fmt.Sprintf("%q is already the name of plugins[%d]", p.Name, j)})
		}
		pluginNames[p.Name] = i
		errs = append(errs, prefixed(prefix, p.Validate())...)
	}
	if cfg.Auth != nil && cfg.Auth.ClientCerts && cfg.TLS.ClientCAFile == "" {
		errs = append(errs, &spec.FieldError{Path: "auth.client_certs", Message: "needs tls.client_ca_file: only a certificate the bus verified can identify a caller"})
	}
	if cfg.Auth != nil {
		errs = append(errs, prefixed("auth", cfg.Auth.Validate())...)
	}
	busNames := map[string]bool{router.DefaultBus: true}
	for i, bus := range cfg.Buses {
		prefix := fmt.Sprintf("buses[%d]", i)
		if busNames[bus.Name] && bus.Name != router.DefaultBus {
			errs = append(errs, &spec.FieldError{Path: prefix + ".name", Message: fmt.Sprintf("%q is declared twice", bus.Name)})
		}
		busNames[bus.Name] = true
		errs = append(errs, prefixed(prefix, bus.Validate())...)
	}
	seen := map[string]int{}
	for i, r := range cfg.Routes {
		prefix := fmt.Sprintf("routes[%d]", i)
		if j, dup := seen[r.Name]; dup && r.Name != "" {
			errs = append(errs, &spec.FieldError{Path: prefix + ".name", Message: fmt.Sprintf("%q is already the name of routes[%d]", r.Name, j)})
		}
		seen[r.Name] = i
		errs = append(errs, prefixed(prefix, r.Validate(cfg.RuleLimits))...)
		if bus := cmp.Or(r.Bus, router.DefaultBus); !busNames[bus] {
			errs = append(errs, &spec.FieldError{Path: prefix + ".bus", Message: fmt.Sprintf("bus %q is not declared: add it under buses", bus)})
		}
	}
	sourceNames := map[string]int{}
	for i, src := range cfg.Sources {
		prefix := fmt.Sprintf("sources[%d]", i)
		if j, dup := sourceNames[src.Name]; dup && src.Name != "" {
			errs = append(errs, &spec.FieldError{Path: prefix + ".name", Message: fmt.Sprintf("%q is already the name of sources[%d]", src.Name, j)})
		}
		sourceNames[src.Name] = i
		errs = append(errs, prefixed(prefix, src.validate(busNames))...)
	}
	return errors.Join(errs...)
}

// prefixed puts prefix before the path of every field error in err.
func prefixed(prefix string, err error) []error {
	if err == nil {
		return nil
	}
	var out []error
	for _, e := range spec.Flatten(err) {
		var fe *spec.FieldError
		if errors.As(e, &fe) {
			e = &spec.FieldError{Path: prefix + "." + fe.Path, Message: fe.Message}
		}
		out = append(out, e)
	}
	return out
}

// openStore opens the store the config names.
func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	switch {
	case cfg.Store != "":
		return store.OpenPostgres(ctx, cfg.Store)
	case cfg.DataDir != "":
		return store.OpenBolt(filepath.Join(cfg.DataDir, "eventbus.db"))
	}
	return store.NewMemory(), nil
}
