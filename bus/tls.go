package bus

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/eventbus-go/eventbus/spec"
)

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

// newServerTLS loads the files c names and returns the listener's TLS
// config, or nil when c does not turn TLS on. Its errors name the field of
// the file at fault.
func newServerTLS(c TLSConfig, log *slog.Logger) (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	certs := &certReloader{certFile: c.CertFile, keyFile: c.KeyFile, log: log}
	if err := certs.load(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.getCertificate}
	if c.ClientCAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(c.ClientCAFile)
	if err != nil {
		return nil, &spec.FieldError{Path: "tls.client_ca_file", Message: err.Error()}
	}
	cfg.ClientCAs = x509.NewCertPool()
	if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
		return nil, &spec.FieldError{Path: "tls.client_ca_file", Message: fmt.Sprintf("%s holds no PEM certificate", c.ClientCAFile)}
	}
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	if c.ClientAuth == ClientAuthVerifyIfGiven {
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// certReloader serves a certificate pair from files, loading it again when
// either file's identity, size or modification time changes.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu                sync.Mutex
	cert              *tls.Certificate
	certStat, keyStat os.FileInfo
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	certStat, err1 := os.Stat(r.certFile)
	keyStat, err2 := os.Stat(r.keyFile)
	if err1 != nil || err2 != nil || (sameFile(certStat, r.certStat) && sameFile(keyStat, r.keyStat)) {
		return r.cert, nil // a file being replaced right now: keep serving the last good pair
	}
	if err := r.loadLocked(certStat, keyStat); err != nil {
		r.log.Warn("TLS certificate changed but does not load: still serving the previous one", "error", err)
		return r.cert, nil
	}
	r.log.Info("TLS certificate reloaded", "cert_file", r.certFile)
	return r.cert, nil
}

// load reads the pair for the first time.
func (r *certReloader) load() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	certStat, err := os.Stat(r.certFile)
	if err != nil {
		return &spec.FieldError{Path: "tls.cert_file", Message: err.Error()}
	}
	keyStat, err := os.Stat(r.keyFile)
	if err != nil {
		return &spec.FieldError{Path: "tls.key_file", Message: err.Error()}
	}
	return r.loadLocked(certStat, keyStat)
}

func (r *certReloader) loadLocked(certStat, keyStat os.FileInfo) error {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return &spec.FieldError{Path: "tls.cert_file", Message: err.Error()}
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return &spec.FieldError{Path: "tls.key_file", Message: err.Error()}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return &spec.FieldError{Path: "tls.key_file", Message: fmt.Sprintf("%s and tls.cert_file %s are not a certificate and its private key: %v", r.keyFile, r.certFile, err)}
	}
	r.cert, r.certStat, r.keyStat = &cert, certStat, keyStat
	return nil
}

func sameFile(a, b os.FileInfo) bool {
	return b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// ClientCertSubject returns the subject of the client certificate the bus
// verified for r against tls.client_ca_file. It reports false for a request
// that came without TLS or without a verified client certificate. With
// auth.client_certs, the subject's common name and organizational units
// are the caller's name and groups; without it the certificate only gets
// the client through the TLS handshake.
func ClientCertSubject(r *http.Request) (pkix.Name, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return pkix.Name{}, false
	}
	return r.TLS.VerifiedChains[0][0].Subject, true
}
