package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccExampleValidatesAndPlans runs the Terraform CLI the way a user
// does on examples/terraform: the provider built as a binary, found through
// dev_overrides, offline. validate checks the configuration against the
// provider's schema; plan, against a real bus, runs the provider's
// planning (defaults, durations, JSON) on every route.
func TestAccExampleValidatesAndPlans(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	work := t.TempDir()

	bin := filepath.Join(work, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-eventbus"), "github.com/eventbus-go/eventbus/terraform")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	cliConfig := filepath.Join(work, "terraformrc")
	overrides := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n}\n", "eventbus-go/eventbus", bin)
	if err := os.WriteFile(cliConfig, []byte(overrides), 0o644); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "terraform", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), example, 0o644); err != nil {
		t.Fatal(err)
	}

	terraform := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	terraform("validate", "-no-color")
	plan := terraform("plan", "-no-color", "-input=false", "-var", "endpoint="+endpoint)
	if !strings.Contains(plan, "Plan: 8 to add, 0 to change, 0 to destroy.") {
		t.Errorf("plan of examples/terraform: want the bus shop and the 7 routes to add; got:\n%s", plan)
	}
}
