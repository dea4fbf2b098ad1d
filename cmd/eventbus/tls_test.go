package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/internal/testpki"
)

func TestCLIReachesATLSBusWithItsCAFile(t *testing.T) {
	ca := testpki.NewCA(t, "bus-ca")
	pair := ca.Issue(t, "bus")
	config := filepath.Join(t.TempDir(), "eventbus.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, "tls:\n  cert_file: %s\n  key_file: %s\n", pair.CertFile, pair.KeyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	_, url := serveProcess(t, "--config", config)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("serve with tls: announced %s, want an https:// URL", url)
	}

	if code, out, errOut := runCLI(t, "routes", "list", "--url", url, "--ca-file", ca.File); code != 0 {
		t.Fatalf("routes list --ca-file: exit %d, %s %s; want the bus reached", code, out, errOut)
	}
	t.Setenv("EVENTBUS_CA_FILE", ca.File)
	if code, out, errOut := runCLI(t, "emit", "--url", url, "--type", "t", "--source", "s"); code != 0 {
		t.Fatalf("emit with EVENTBUS_CA_FILE: exit %d, %s %s; want the event accepted", code, out, errOut)
	}
	t.Setenv("EVENTBUS_CA_FILE", "")
	if code, _, errOut := runCLI(t, "routes", "list", "--url", url); code == 0 || !strings.Contains(errOut, "certificate") {
		t.Fatalf("routes list without the CA: exit %d, %s; want a certificate error, a test CA signed the bus", code, errOut)
	}
}

func TestServeRefusesAKeyThatIsNotTheCertificates(t *testing.T) {
	ca := testpki.NewCA(t, "bus-ca")
	pair, other := ca.Issue(t, "bus"), ca.Issue(t, "other")
	config := filepath.Join(t.TempDir(), "eventbus.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, "tls:\n  cert_file: %s\n  key_file: %s\n", pair.CertFile, other.KeyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "serve", "--config", config, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	if code == 0 || !strings.Contains(errOut, "tls.key_file") {
		t.Fatalf("exit %d, %s; want a start-up error naming tls.key_file", code, errOut)
	}
}
