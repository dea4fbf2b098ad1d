package bus

import (
	"errors"
	"fmt"
	"time"

	"github.com/eventbus-go/eventbus/spec"
)

// The listener's settings: how package httpapi serves the bus (TLS, and
// limits on what one client may hold). They are part of Config so that
// one file configures the process.

// Client certificate modes of TLSConfig.ClientAuth.
const (
	// ClientAuthRequire refuses a connection without a client certificate
	// signed by client_ca_file. The default when client_ca_file is set.
	ClientAuthRequire = "require"
	// ClientAuthVerifyIfGiven accepts a connection without a client
	// certificate, but refuses one whose certificate client_ca_file did not
	// sign.
	ClientAuthVerifyIfGiven = "verify_if_given"
)

// TLSConfig turns on HTTPS for the bus's listener. The certificate pair is
// read again whenever either file changes (checked on each new
// connection), so a renewed certificate needs no restart; a pair that does
// not load is logged and the previous one kept. The client CA file is read
// once, at start.
type TLSConfig struct {
	// CertFile and KeyFile are the PEM server certificate (with its chain)
	// and private key. Both or neither.
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// ClientCAFile, when set, makes the bus ask for client certificates
	// signed by one of the PEM CAs in this file.
	ClientCAFile string `json:"client_ca_file,omitempty"`
	// ClientAuth is ClientAuthRequire (the default) or
	// ClientAuthVerifyIfGiven; it needs ClientCAFile.
	ClientAuth string `json:"client_auth,omitempty"`
}

// Enabled reports whether the config turns TLS on.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// Validate checks the shape of the config; the files are read by New.
func (c TLSConfig) Validate() error {
	var errs []error
	if c.CertFile == "" && c.KeyFile != "" {
		errs = append(errs, &spec.FieldError{Path: "tls.cert_file", Message: "is required with tls.key_file"})
	}
	if c.KeyFile == "" && c.CertFile != "" {
		errs = append(errs, &spec.FieldError{Path: "tls.key_file", Message: "is required with tls.cert_file"})
	}
	if c.ClientCAFile != "" && !c.Enabled() {
		errs = append(errs, &spec.FieldError{Path: "tls.client_ca_file", Message: "needs tls.cert_file and tls.key_file: client certificates are only asked for over TLS"})
	}
	switch c.ClientAuth {
	case "", ClientAuthRequire, ClientAuthVerifyIfGiven:
		if c.ClientAuth != "" && c.ClientCAFile == "" {
			errs = append(errs, &spec.FieldError{Path: "tls.client_auth", Message: "needs tls.client_ca_file, the CAs client certificates must be signed by"})
		}
	default:
		errs = append(errs, &spec.FieldError{Path: "tls.client_auth", Message: fmt.Sprintf("%q is not a mode: use %s or %s", c.ClientAuth, ClientAuthRequire, ClientAuthVerifyIfGiven)})
	}
	return errors.Join(errs...)
}

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
