package rabbitmq_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/rabbitmq"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/internal/testpki"
)

// tlsProxy terminates TLS with cfg on a local port and forwards the bytes
// to the broker at backend, standing in for a RabbitMQ with a TLS
// listener. It stops when the test ends.
func tlsProxy(t *testing.T, cfg *tls.Config, backend string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return // closed at cleanup
			}
			broker, err := net.Dial("tcp", backend)
			if err != nil {
				client.Close()
				continue
			}
			track(client)
			track(broker)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			wg.Go(func() { pipe(broker, client) })
			wg.Go(func() { pipe(client, broker) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// amqpsURL is an amqps:// URL with the broker's credentials for addr.
func amqpsURL(t *testing.T, addr string, query url.Values) *url.URL {
	u := brokerURL(t, "")
	return &url.URL{Scheme: rabbitmq.SchemeTLS, User: u.User, Host: addr, Path: "/", RawQuery: query.Encode()}
}

func TestAMQPSPublishesAndConsumesThroughTLS(t *testing.T) {
	ca := testpki.NewCA(t, "broker-ca")
	server, client := ca.Issue(t, "localhost"), ca.Issue(t, "eventbus")
	proxy := tlsProxy(t, &tls.Config{
		Certificates: []tls.Certificate{server.TLS(t)},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, brokerURL(t, "").Host)
	u := amqpsURL(t, proxy, url.Values{
		"ca_file": {ca.File}, "cert_file": {client.CertFile}, "key_file": {client.KeyFile}, "server_name": {"localhost"},
	})

	ctx := t.Context()
	_, b, ch, top := openChannel(t, u, "rabbit-tls")
	if err := top.Send(ctx, &adapters.Message{Body: []byte(`{"over":"tls"}`), Metadata: map[string]string{"specversion": "1.0", "id": "tls-1", "source": "/t", "type": "t"}}); err != nil {
		t.Fatalf("Send over amqps://: %v", err)
	}
	sub, err := b.OpenSubscription(ctx, ch, adapters.SubscriptionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Shutdown(context.Background()) })
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := sub.Receive(rctx)
	if err != nil {
		t.Fatalf("Receive over amqps://: %v; want the message sent through the TLS connection", err)
	}
	m.Ack()
	if m.Metadata["id"] != "tls-1" || string(m.Body) != `{"over":"tls"}` {
		t.Fatalf("received id %q body %s, want tls-1 and the body sent", m.Metadata["id"], m.Body)
	}
}

func TestAMQPSRefusesABrokerAnotherCASigned(t *testing.T) {
	ca := testpki.NewCA(t, "broker-ca")
	proxy := tlsProxy(t, &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "localhost").TLS(t)}}, brokerURL(t, "").Host)
	u := amqpsURL(t, proxy, url.Values{"ca_file": {testpki.NewCA(t, "other-ca").File}})
	u.User = url.UserPassword("guest", "s3cret-password")

	b, err := rabbitmq.Open(t.Context(), u)
	if err == nil {
		b.Close()
		t.Fatal("amqps:// with a ca_file that did not sign the broker's certificate connected; it must refuse")
	}
	if !strings.Contains(err.Error(), "ca_file") || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error %q must say the broker's certificate is not trusted and point at ca_file", err)
	}
	if strings.Contains(err.Error(), "s3cret-password") {
		t.Errorf("error %q shows the URL's password", err)
	}
}

func TestTLSOptionsAreCheckedBeforeConnecting(t *testing.T) {
	ca := testpki.NewCA(t, "broker-ca")
	pair := ca.Issue(t, "eventbus")
	for _, tc := range []struct {
		name, scheme string
		query        url.Values
		want         string
	}{
		{"a ca_file that does not exist", rabbitmq.SchemeTLS, url.Values{"ca_file": {"/nonexistent/ca.pem"}}, "ca_file"},
		{"a ca_file without a certificate", rabbitmq.SchemeTLS, url.Values{"ca_file": {pair.KeyFile}}, "ca_file"},
		{"a cert_file without its key_file", rabbitmq.SchemeTLS, url.Values{"cert_file": {pair.CertFile}}, "key_file"},
		{"a key that is not the certificate's", rabbitmq.SchemeTLS, url.Values{"cert_file": {pair.CertFile}, "key_file": {ca.Issue(t, "other").KeyFile}}, "cert_file and key_file"},
		{"TLS options on rabbit://", rabbitmq.Scheme, url.Values{"ca_file": {ca.File}}, "amqps://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Port 1 answers nothing: the error must come before any dial.
			u := &url.URL{Scheme: tc.scheme, User: url.UserPassword("guest", "s3cret-password"), Host: "127.0.0.1:1", Path: "/", RawQuery: tc.query.Encode()}
			_, err := rabbitmq.Open(t.Context(), u)
			if errcode.Of(err) != errcode.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open with %s: %v; want invalid_argument naming %s", tc.name, err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret-password") {
				t.Fatalf("error %q shows the URL's password", err)
			}
		})
	}
}
