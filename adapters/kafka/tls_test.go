package kafka_test

import (
	"crypto/tls"
	"net/url"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eventbus-go/eventbus/adapters/kafka"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/internal/testpki"
)

// secureCluster starts a kfake broker that speaks only TLS, with a
// certificate ca signed, and takes only the SCRAM-SHA-256 user
// eventbus/right-password.
func secureCluster(t *testing.T, ca *testpki.CA) string {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1), kfake.Ports(0),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "localhost").TLS(t)}}),
		kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "eventbus", "right-password"),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

func secureURL(host, password string, query url.Values) *url.URL {
	return &url.URL{Scheme: kafka.Scheme, User: url.UserPassword("eventbus", password), Host: host, RawQuery: query.Encode()}
}

func TestTLSAndSCRAMPublishAndConsume(t *testing.T) {
	ca := testpki.NewCA(t, "kafka-ca")
	host := secureCluster(t, ca)
	u := secureURL(host, "right-password", url.Values{"tls": {"true"}, "ca_file": {ca.File}, "sasl": {kafka.SASLScramSHA256}})

	b, ch, top := openChannel(t, u, "kafka-tls")
	if err := top.Send(t.Context(), event("over-tls", "")); err != nil {
		t.Fatalf("Send over TLS with SCRAM: %v", err)
	}
	m := receive(t, subscribe(t, b, ch, 1))
	m.Ack()
	if m.Metadata["id"] != "over-tls" {
		t.Fatalf("received %q, want over-tls: the consumer must use the same TLS and SASL as the producer", m.Metadata["id"])
	}
}

func TestWrongKafkaPasswordIsAnAuthenticationError(t *testing.T) {
	ca := testpki.NewCA(t, "kafka-ca")
	host := secureCluster(t, ca)
	u := secureURL(host, "wrong-password", url.Values{"tls": {"true"}, "ca_file": {ca.File}, "sasl": {kafka.SASLScramSHA256}})

	b, err := kafka.Open(t.Context(), u)
	if err == nil {
		b.Close()
		t.Fatal("Open with a wrong password connected; the broker must refuse it")
	}
	if errcode.Of(err) != errcode.FailedPrecondition || !strings.Contains(err.Error(), "authentication") {
		t.Errorf("error %q (%v): want failed_precondition saying authentication failed, so the operator checks the credentials rather than the network", err, errcode.Of(err))
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestKafkaBrokerAnotherCASignedIsRefused(t *testing.T) {
	host := secureCluster(t, testpki.NewCA(t, "kafka-ca"))
	u := secureURL(host, "right-password", url.Values{"tls": {"true"}, "ca_file": {testpki.NewCA(t, "other-ca").File}, "sasl": {kafka.SASLScramSHA256}})

	b, err := kafka.Open(t.Context(), u)
	if err == nil {
		b.Close()
		t.Fatal("Open trusting another CA connected; the broker's certificate must be refused")
	}
	if !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("error %q must point at ca_file", err)
	}
}

func TestKafkaSecurityOptionsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    *url.URL
		want string
	}{
		{"a CA without tls=true", secureURL("127.0.0.1:1", "p", url.Values{"ca_file": {"/ca.pem"}, "sasl": {kafka.SASLScramSHA256}}), "tls=true"},
		{"an unknown mechanism", secureURL("127.0.0.1:1", "p", url.Values{"sasl": {"gssapi"}}), "scram-sha-256"},
		{"sasl without a password", &url.URL{Scheme: kafka.Scheme, User: url.User("eventbus"), Host: "127.0.0.1:1", RawQuery: "sasl=scram-sha-512"}, "USER:PASSWORD"},
		{"a password without sasl", secureURL("127.0.0.1:1", "p", nil), "sasl="},
		{"tls that is not a boolean", secureURL("127.0.0.1:1", "p", url.Values{"tls": {"yes please"}}), "true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kafka.Open(t.Context(), tc.u)
			if errcode.Of(err) != errcode.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open with %s: %v; want invalid_argument mentioning %q", tc.name, err, tc.want)
			}
		})
	}
}
