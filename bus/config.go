package bus

import (
	"errors"
	"fmt"
	"os"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/eventbus-go/eventbus/plugins"
	"github.com/eventbus-go/eventbus/router"
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
	ShutdownTimeout router.Duration `json:"shutdown_timeout,omitzero"`
	// Dedup tunes how ingress recognises a repeated (source, id).
	Dedup DedupConfig `json:"dedup,omitzero"`
	// RuleLimits bound what one route's rule may cost.
	RuleLimits router.Limits `json:"-"`
	// Plugins are the handler programs routes may deliver to; the bus
	// launches them at start and stops them last.
	Plugins []plugins.Config `json:"plugins,omitempty"`
	// Routes are created at start.
	Routes []router.Route `json:"routes,omitempty"`
}

// DedupConfig bounds the memory of events already stored: a repeat of the
// same (source, id) on a bus within Window is answered as the first and not
// stored again. At most MaxEvents are remembered; past that the oldest are
// forgotten early.
type DedupConfig struct {
	Window    router.Duration `json:"window,omitzero"`
	MaxEvents int             `json:"max_events,omitempty"`
}

// LoadConfig reads a YAML config file. Unknown fields are errors, so a typo
// does not silently fall back to a default.
func LoadConfig(path string) (Config, error) {
	var cfg Config
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
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
		cfg.ShutdownTimeout = router.Duration(DefaultShutdownTimeout)
	}
	if cfg.Dedup.Window == 0 {
		cfg.Dedup.Window = router.Duration(DefaultDedupWindow)
	}
	if cfg.Dedup.MaxEvents == 0 {
		cfg.Dedup.MaxEvents = DefaultDedupMaxEvents
	}
	return cfg
}

// Validate checks the config, naming each field at fault by its path
// ("routes[2].target.http.url").
func (cfg Config) Validate() error {
	var errs []error
	if cfg.MaxBodyBytes < 0 {
		errs = append(errs, &router.FieldError{Path: "max_body_bytes", Message: "must be positive"})
	}
	if cfg.ShutdownTimeout < 0 {
		errs = append(errs, &router.FieldError{Path: "shutdown_timeout", Message: "must not be negative"})
	}
	if cfg.Dedup.Window < 0 {
		errs = append(errs, &router.FieldError{Path: "dedup.window", Message: "must not be negative"})
	}
	if cfg.Dedup.MaxEvents < 0 {
		errs = append(errs, &router.FieldError{Path: "dedup.max_events", Message: "must not be negative"})
	}
	pluginNames := map[string]int{}
	for i, p := range cfg.Plugins {
		prefix := fmt.Sprintf("plugins[%d]", i)
		if j, dup := pluginNames[p.Name]; dup && p.Name != "" {
			errs = append(errs, &router.FieldError{Path: prefix + ".name", Message: fmt.Sprintf("%q is already the name of plugins[%d]", p.Name, j)})
		}
		pluginNames[p.Name] = i
		for _, e := range flatten(p.Validate()) {
			var fe *plugins.FieldError
			if errors.As(e, &fe) {
				e = &router.FieldError{Path: prefix + "." + fe.Path, Message: fe.Message}
			}
			errs = append(errs, e)
		}
	}
	seen := map[string]int{}
	for i, r := range cfg.Routes {
		prefix := fmt.Sprintf("routes[%d]", i)
		if j, dup := seen[r.Name]; dup && r.Name != "" {
			errs = append(errs, &router.FieldError{Path: prefix + ".name", Message: fmt.Sprintf("%q is already the name of routes[%d]", r.Name, j)})
		}
		seen[r.Name] = i
		for _, e := range flatten(r.Validate(cfg.RuleLimits)) {
			var fe *router.FieldError
			if errors.As(e, &fe) {
				e = &router.FieldError{Path: prefix + "." + fe.Path, Message: fe.Message}
			}
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}
