package bus_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/bus/httpapi"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/internal/testpki"
	"github.com/eventbus-go/eventbus/router"
)

// httpsClient trusts only ca and presents cert, if any, even to a server
// that asks for another CA's; it opens a fresh connection for each request
// so that every request sees the server's current certificate.
func httpsClient(ca *testpki.CA, cert ...tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: ca.Pool()}
	if len(cert) > 0 {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert[0], nil }
	}
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: cfg}}
}

// servedCommonName connects to base and returns the common name of the
// certificate the server presented.
func servedCommonName(client *http.Client, base string) (string, error) {
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.TLS.PeerCertificates[0].Subject.CommonName, nil
}

// replaceFile swaps the contents of path at once, as a certificate
// renewal tool does.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestBusServesHTTPSWithTheConfiguredCertificate(t *testing.T) {
	ca := testpki.NewCA(t, "test-ca")
	pair := ca.Issue(t, "bus-one")
	base := bustest.Start(t, bus.Config{TLS: bus.TLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile}}).URL
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("a bus with tls.cert_file must serve HTTPS, got %s", base)
	}
	cn, err := servedCommonName(httpsClient(ca), base)
	if err != nil {
		t.Fatalf("a client trusting the bus's CA must connect: %v", err)
	}
	if cn != "bus-one" {
		t.Fatalf("served certificate %q, want bus-one, the one in tls.cert_file", cn)
	}
	resp, err := http.Get("http://" + strings.TrimPrefix(base, "https://") + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to a TLS bus got %d, want 400: nothing may be served without TLS", resp.StatusCode)
		}
	}
}

func TestRenewedCertificateIsServedWithoutRestart(t *testing.T) {
	ca := testpki.NewCA(t, "test-ca")
	old := ca.Issue(t, "before-renewal")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	replaceFile(t, certFile, old.CertPEM)
	replaceFile(t, keyFile, old.KeyPEM)
	base := bustest.Start(t, bus.Config{TLS: bus.TLSConfig{CertFile: certFile, KeyFile: keyFile}}).URL
	client := httpsClient(ca)
	if cn, err := servedCommonName(client, base); err != nil || cn != "before-renewal" {
		t.Fatalf("before renewal: served %q (%v), want before-renewal", cn, err)
	}

	renewed := ca.Issue(t, "after-renewal")
	replaceFile(t, keyFile, renewed.KeyPEM)
	replaceFile(t, certFile, renewed.CertPEM)
	testkit.Eventually(t, 10*time.Second, "a new connection to see the renewed certificate", func() bool {
		cn, err := servedCommonName(client, base)
		return err == nil && cn == "after-renewal"
	})
}

func TestCertificateThatDoesNotLoadKeepsThePreviousOneServed(t *testing.T) {
	ca := testpki.NewCA(t, "test-ca")
	good := ca.Issue(t, "good")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	replaceFile(t, certFile, good.CertPEM)
	replaceFile(t, keyFile, good.KeyPEM)
	base := bustest.Start(t, bus.Config{TLS: bus.TLSConfig{CertFile: certFile, KeyFile: keyFile}}).URL

	replaceFile(t, certFile, ca.Issue(t, "other").CertPEM) // its key is not keyFile's
	cn, err := servedCommonName(httpsClient(ca), base)
	if err != nil || cn != "good" {
		t.Fatalf("with a certificate that does not match the key on disk, the bus must keep serving the last good one; got %q (%v)", cn, err)
	}
}

func TestClientCertificateIsRequiredWhenConfigured(t *testing.T) {
	ca := testpki.NewCA(t, "test-ca")
	clients := testpki.NewCA(t, "client-ca")
	server := ca.Issue(t, "bus")
	base := bustest.Start(t, bus.Config{TLS: bus.TLSConfig{CertFile: server.CertFile, KeyFile: server.KeyFile, ClientCAFile: clients.File}}).URL

	if _, err := httpsClient(ca).Get(base + "/healthz"); err == nil {
		t.Fatal("a client without a certificate got in, though tls.client_ca_file with the default client_auth: require must refuse it")
	}
	stranger := testpki.NewCA(t, "stranger-ca").Issue(t, "stranger")
	if _, err := httpsClient(ca, stranger.TLS(t)).Get(base + "/healthz"); err == nil {
		t.Fatal("a client certificate from another CA got in: only tls.client_ca_file's CAs may sign client certificates")
	}
	alice := clients.Issue(t, "alice")
	resp, err := httpsClient(ca, alice.TLS(t)).Get(base + "/healthz")
	if err != nil {
		t.Fatalf("a client certificate signed by tls.client_ca_file was refused: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz with a good client certificate: %d, want 200", resp.StatusCode)
	}
}

func TestVerifyIfGivenLetsClientsWithoutACertificateIn(t *testing.T) {
	ca := testpki.NewCA(t, "test-ca")
	clients := testpki.NewCA(t, "client-ca")
	server := ca.Issue(t, "bus")
	base := bustest.Start(t, bus.Config{TLS: bus.TLSConfig{CertFile: server.CertFile, KeyFile: server.KeyFile,
		ClientCAFile: clients.File, ClientAuth: bus.ClientAuthVerifyIfGiven}}).URL

	resp, err := httpsClient(ca).Get(base + "/healthz")
	if err != nil {
		t.Fatalf("client_auth: verify_if_given must let a client without a certificate in: %v", err)
	}
	resp.Body.Close()
	stranger := testpki.NewCA(t, "stranger-ca").Issue(t, "stranger")
	if _, err := httpsClient(ca, stranger.TLS(t)).Get(base + "/healthz"); err == nil {
		t.Fatal("client_auth: verify_if_given let in a certificate another CA signed: a given certificate must still verify")
	}
}

func TestClientCertSubjectNamesTheVerifiedClient(t *testing.T) {
	ca := testpki.NewCA(t, "test-ca")
	clients := testpki.NewCA(t, "client-ca")
	server := ca.Issue(t, "bus")
	cfg := &tls.Config{ClientCAs: clients.Pool(), ClientAuth: tls.VerifyClientCertIfGiven}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject, ok := httpapi.ClientCertSubject(r)
		if !ok {
			io.WriteString(w, "(none)")
			return
		}
		io.WriteString(w, subject.CommonName)
	}))
	cfg.Certificates = []tls.Certificate{server.TLS(t)} // else httptest puts its own
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		want  string
	}{
		{"with a verified certificate", []tls.Certificate{clients.Issue(t, "alice").TLS(t)}, "alice"},
		{"without a certificate", nil, "(none)"},
	} {
		resp, err := httpsClient(ca, tc.certs...).Get(srv.URL)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != tc.want {
			t.Errorf("%s: ClientCertSubject gave %q, want %q: the authentication layer maps it to an identity", tc.name, body, tc.want)
		}
	}
}

func TestBadTLSConfigIsAStartupErrorNamingTheField(t *testing.T) {
	ca := testpki.NewCA(t, "test-ca")
	pair := ca.Issue(t, "bus")
	other := ca.Issue(t, "other")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		name string
		tls  bus.TLSConfig
		want string
	}{
		{"a missing certificate file", bus.TLSConfig{CertFile: missing, KeyFile: pair.KeyFile}, "tls.cert_file"},
		{"a missing key file", bus.TLSConfig{CertFile: pair.CertFile, KeyFile: missing}, "tls.key_file"},
		{"a key that is not the certificate's", bus.TLSConfig{CertFile: pair.CertFile, KeyFile: other.KeyFile}, "tls.key_file"},
		{"a certificate without its key", bus.TLSConfig{CertFile: pair.CertFile}, "tls.key_file"},
		{"a missing client CA file", bus.TLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile, ClientCAFile: missing}, "tls.client_ca_file"},
		{"a client CA file without a certificate", bus.TLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile, ClientCAFile: pair.KeyFile}, "tls.client_ca_file"},
		{"an unknown client_auth", bus.TLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile, ClientCAFile: ca.File, ClientAuth: "maybe"}, "tls.client_auth"},
		{"client_auth without a client CA", bus.TLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile, ClientAuth: bus.ClientAuthRequire}, "tls.client_auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := httpapi.New(context.Background(), bus.Config{TLS: tc.tls}, slog.New(slog.DiscardHandler))
			if err == nil {
				_ = b.Shutdown(context.Background())
				t.Fatalf("httpapi.New started with %s; it must refuse to start", tc.name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s, the field to fix", err, tc.want)
			}
		})
	}
}

// With auth.client_certs, a verified client certificate is a credential:
// its common name names the caller and its organizational units are the
// groups the bus's ACL checks; a bearer credential, when sent, still wins.
func TestVerifiedClientCertificateIdentifiesTheCallerForTheACL(t *testing.T) {
	ca := testpki.NewCA(t, "test-ca")
	clients := testpki.NewCA(t, "client-ca")
	server := ca.Issue(t, "bus")
	srv := bustest.Start(t, bus.Config{
		TLS: bus.TLSConfig{CertFile: server.CertFile, KeyFile: server.KeyFile,
			ClientCAFile: clients.File, ClientAuth: bus.ClientAuthVerifyIfGiven},
		Auth:   &auth.Config{ClientCerts: true},
		Buses:  []router.Bus{{Name: "shop", ACL: &auth.ACL{Emit: []auth.Grant{{Groups: []string{"shop"}}}}}},
		Routes: []router.Route{{Name: "orders", Bus: "shop", Paused: true, Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/unused"}}}},
	})
	base, b := srv.URL, srv.Bus
	emit := func(client *http.Client, id string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/buses/shop/events", strings.NewReader(`{}`))
		for k, v := range binaryHeaders(map[string]string{"ce-id": id, "Content-Type": "application/json"}) {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	stored := func() int64 {
		st, err := b.Stats(context.Background(), "orders")
		if err != nil {
			t.Fatal(err)
		}
		return st.Accepted
	}

	if status, body := emit(httpsClient(ca, clients.Issue(t, "shop-web", "shop").TLS(t)), "from-shop"); status != http.StatusAccepted {
		t.Fatalf("emit with a certificate in OU shop: %d %s; want 202: acl.emit allows group shop", status, body)
	}
	status, body := emit(httpsClient(ca, clients.Issue(t, "intruder", "marketing").TLS(t)), "from-marketing")
	checkRefusal(t, status, body, http.StatusForbidden, "permission_denied", `certificate "intruder" may not emit to bus "shop"`)
	status, body = emit(httpsClient(ca), "anonymous")
	checkRefusal(t, status, body, http.StatusUnauthorized, "unauthenticated", "no credentials")
	if n := stored(); n != 1 {
		t.Errorf("%d events stored; want only the one from the certificate the ACL allows", n)
	}
}

func TestClientCertsWithoutAClientCAIsAConfigError(t *testing.T) {
	err := bus.Config{Auth: &auth.Config{ClientCerts: true}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "auth.client_certs") || !strings.Contains(err.Error(), "tls.client_ca_file") {
		t.Fatalf("Validate = %v; want an error naming auth.client_certs and tls.client_ca_file: without a client CA no certificate is verified, so none may identify a caller", err)
	}
}
