package sdk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testpki"
	"github.com/eventbus-go/eventbus/sdk"
)

func TestClientReachesATLSBusThroughItsCAFile(t *testing.T) {
	ca := testpki.NewCA(t, "bus-ca")
	pair := ca.Issue(t, "bus")
	base := bustest.Start(t, bus.Config{TLS: bus.TLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile}}).URL

	c, err := sdk.New(base, sdk.Options{CAFile: ca.File})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListRoutes(context.Background()); err != nil {
		t.Fatalf("a client trusting Options.CAFile must reach the bus at %s: %v", base, err)
	}

	untrusting, err := sdk.New(base, sdk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = untrusting.ListRoutes(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client trusting only the system's CAs got %v; want a certificate error, since a test CA signed the bus", err)
	}
}

func TestCAFileThatHoldsNoCertificateIsRefused(t *testing.T) {
	pair := testpki.NewCA(t, "bus-ca").Issue(t, "bus")
	if _, err := sdk.New("https://127.0.0.1:1", sdk.Options{CAFile: pair.KeyFile}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("sdk.New with a key file as CAFile: %v; want an error saying it holds no certificate", err)
	}
}
