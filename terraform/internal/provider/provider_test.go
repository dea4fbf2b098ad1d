package provider

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/sdk"
)

// providerFactories serve the provider in-process to the Terraform CLI that
// terraform-plugin-testing drives.
var providerFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"eventbus": providerserver.NewProtocol6WithError(New("test")()),
}

// requireAcceptance skips an acceptance test on a laptop unless TF_ACC is
// set, and fails it in CI: there, a test that cannot run is a failure.
func requireAcceptance(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but TF_ACC is unset: the provider's acceptance tests must run in CI; run them as scripts/test.sh does, with TF_ACC=1 and TF_ACC_TERRAFORM_PATH=$(scripts/terraform.sh)")
		}
		t.Skip("acceptance test against a real bus: set TF_ACC=1 and TF_ACC_TERRAFORM_PATH=$(scripts/terraform.sh) to run it")
	}
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		t.Fatal("TF_ACC_TERRAFORM_PATH is unset: point it at the Terraform CLI, TF_ACC_TERRAFORM_PATH=$(scripts/terraform.sh); the tests never download one")
	}
	if _, err := os.Stat(tf); err != nil {
		t.Fatalf("TF_ACC_TERRAFORM_PATH: %v; scripts/terraform.sh installs the Terraform CLI and prints its path", err)
	}
}

var (
	busBinaryOnce sync.Once
	busBinary     string
	busBinaryErr  error
)

// buildBus builds the eventbus command of the parent module once per test
// binary.
func buildBus(t *testing.T) string {
	t.Helper()
	busBinaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "eventbus-terraform-test")
		if err != nil {
			busBinaryErr = err
			return
		}
		busBinary = filepath.Join(dir, "eventbus")
		cmd := exec.Command("go", "build", "-o", busBinary, "./cmd/eventbus")
		cmd.Dir = filepath.Join("..", "..", "..") // the parent module's root
		if out, err := cmd.CombinedOutput(); err != nil {
			busBinaryErr = fmt.Errorf("building the bus (go build ./cmd/eventbus in the parent module): %v\n%s", err, out)
		}
	})
	if busBinaryErr != nil {
		t.Fatal(busBinaryErr)
	}
	return busBinary
}

// startBus runs a bus process of its own for one test, keeping its buses and
// routes in a temporary directory, and returns its base URL. Routes that
// name no backend get mem://, which the tests expect back. The process is
// stopped when the test ends.
func startBus(t *testing.T) string {
	t.Helper()
	return startBusWith(t, "--backend", "mem://")
}

// startBusWith is startBus with serve's flags of the caller's choosing (none:
// serve's defaults, an embedded NATS JetStream store that keeps an archive).
func startBusWith(t *testing.T, flags ...string) string {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, flags...)
	cmd := exec.Command(buildBus(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the bus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	// The bus names its address on its first line: "eventbus listening on URL (…)".
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), "eventbus listening on "); ok {
				found <- strings.Fields(rest)[0]
				break
			}
		}
		close(found)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var endpoint string
	select {
	case endpoint = <-found:
	case <-time.After(30 * time.Second):
	}
	if endpoint == "" {
		t.Fatalf("the bus did not say where it listens within 30s; its stderr:\n%s", stderr.String())
	}
	waitHealthy(t, endpoint)
	return endpoint
}

// waitHealthy polls GET /healthz until the bus answers 200.
func waitHealthy(t *testing.T, endpoint string) {
	t.Helper()
	testkit.EventuallyNoError(t, 30*time.Second, func() error {
		resp, err := http.Get(endpoint + "/healthz")
		if err != nil {
			return fmt.Errorf("the bus at %s never answered /healthz with 200 (last error: %v)", endpoint, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the bus at %s never answered /healthz with 200 (last answer: %s)", endpoint, resp.Status)
		}
		return nil
	})
}

func newClient(t *testing.T, endpoint string) *sdk.Client {
	t.Helper()
	c, err := sdk.New(endpoint, sdk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// providerConfig points the provider at the test's bus.
func providerConfig(endpoint string) string {
	return fmt.Sprintf("provider \"eventbus\" {\n  endpoint = %q\n}\n", endpoint)
}

func TestProviderClientSendsTheToken(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		_, _ = io.WriteString(w, `{"buses":[]}`)
	}))
	defer srv.Close()

	client, err := busClient(srv.URL, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListBuses(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got != "Bearer s3cret" {
		t.Errorf("Authorization header = %q, want %q: the bus's access control reads the provider's token from it", got, "Bearer s3cret")
	}
}
