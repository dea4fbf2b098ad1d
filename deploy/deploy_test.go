// Package deploy holds the files that run eventbus as a service: a
// container build (Dockerfile), a systemd unit and a Kubernetes manifest.
// Its test checks that what they tell eventbus to do, eventbus accepts.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/eventbus-go/eventbus/bus"
)

// The config in the manifest's ConfigMap loads, the pod probes readiness
// on /readyz, and Kubernetes waits for the whole drain before it kills a
// pod: a rolling update then loses nothing and refuses nothing.
func TestKubernetesManifestRunsAValidConfigAndWaitsForTheDrain(t *testing.T) {
	docs := manifest(t, filepath.Join("kubernetes", "eventbus.yaml"))
	cm := docs["ConfigMap"]
	data, _ := cm["data"].(map[string]any)
	text, _ := data["eventbus.yaml"].(string)
	cfg := loadConfig(t, text)
	if cfg.ShutdownDelay == 0 {
		t.Error("the ConfigMap's config sets no shutdown_delay: pods would close ingress while the Service still sends to them")
	}

	pod := dig(t, docs["Deployment"], "spec", "template", "spec")
	grace, _ := pod["terminationGracePeriodSeconds"].(float64)
	drain := time.Duration(cfg.ShutdownDelay) + time.Duration(cfg.ShutdownTimeout)
	if time.Duration(grace)*time.Second <= drain {
		t.Errorf("terminationGracePeriodSeconds %v is not more than shutdown_delay + shutdown_timeout (%v): Kubernetes would SIGKILL a draining pod", grace, drain)
	}
	containers, _ := pod["containers"].([]any)
	if len(containers) != 1 {
		t.Fatalf("the pod has %d containers, want 1", len(containers))
	}
	c, _ := containers[0].(map[string]any)
	probe := dig(t, c, "readinessProbe", "httpGet")
	if probe["path"] != "/readyz" {
		t.Errorf("readiness probe on %v, want /readyz: it is what goes 503 first on SIGTERM", probe["path"])
	}
	var args []string
	for _, a := range c["args"].([]any) {
		args = append(args, a.(string))
	}
	servesWith(t, strings.Join(args, " "))
}

// The systemd unit's config loads, and its command line is one eventbus
// serve understands.
func TestSystemdUnitRunsAValidConfig(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("systemd", "eventbus.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	loadConfig(t, string(text))
	unit, err := os.ReadFile(filepath.Join("systemd", "eventbus.service"))
	if err != nil {
		t.Fatal(err)
	}
	execStart := regexp.MustCompile(`(?m)^ExecStart=\S+ (.*)$`).FindSubmatch(unit)
	if execStart == nil {
		t.Fatal("the unit has no ExecStart")
	}
	servesWith(t, string(execStart[1]))
}

func loadConfig(t *testing.T, text string) bus.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "eventbus.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// Keys named by key_env must be set for the config to load.
	t.Setenv("OPS_KEY", strings.Repeat("k", 32))
	cfg, err := bus.LoadConfig(path)
	if err != nil {
		t.Fatalf("the deployed config does not load: %v", err)
	}
	return cfg.WithDefaults()
}

// servesWith checks that every --flag of command line (after the
// subcommand "serve") is a flag of `eventbus serve`.
func servesWith(t *testing.T, line string) {
	t.Helper()
	fields := strings.Fields(line)
	if len(fields) == 0 || fields[0] != "serve" {
		t.Fatalf("command line %q does not run eventbus serve", line)
	}
	exe := filepath.Join(t.TempDir(), "eventbus")
	build := exec.Command("go", "build", "-o", exe, "./cmd/eventbus")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/eventbus: %v\n%s", err, out)
	}
	help, err := exec.Command(exe, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("eventbus serve --help: %v\n%s", err, help)
	}
	for _, f := range fields[1:] {
		name, _, _ := strings.Cut(f, "=")
		if strings.HasPrefix(name, "--") && !strings.Contains(string(help), name+" ") {
			t.Errorf("%s is not a flag of eventbus serve (see eventbus serve --help)", name)
		}
	}
}

// manifest reads a multi-document YAML file into its documents by kind.
func manifest(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]any{}
	for _, part := range strings.Split(string(b), "\n---\n") {
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(part), &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		kind, _ := doc["kind"].(string)
		docs[kind] = doc
	}
	return docs
}

func dig(t *testing.T, m map[string]any, path ...string) map[string]any {
	t.Helper()
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			t.Fatalf("the manifest has no %s", strings.Join(path, "."))
		}
		m = next
	}
	return m
}
