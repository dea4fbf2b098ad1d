package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/spec"
)

// newServerTLS loads the files c names and returns the listener's TLS
// config, or nil when c does not turn TLS on. Its errors name the field of
// the file at fault.
func newServerTLS(c bus.TLSConfig, log *slog.Logger) (*tls.Config, error) {
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
	if c.ClientAuth == bus.ClientAuthVerifyIfGiven {
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
