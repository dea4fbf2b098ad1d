package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/auth"
)

// A key made with `keys create` works from the CLI until `keys revoke`,
// then the bus refuses it.
func TestKeysCreateUseRevoke(t *testing.T) {
	adminKey := auth.GenerateKey()
	t.Setenv("EVENTBUS_CLI_TEST_OPS_KEY", adminKey)
	config := filepath.Join(t.TempDir(), "eventbus.yaml")
	if err := os.WriteFile(config, []byte(`
auth:
  admins: [admins]
  api_keys:
    - {name: ops, key_env: EVENTBUS_CLI_TEST_OPS_KEY, groups: [admins]}
buses:
  - name: shop
    acl: {emit: [shop], manage: [admins], read: [admins]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, url := serveProcess(t, "--config", config)

	code, stdout, stderr := runCLI(t, "keys", "create", "shop-web", "--groups", "shop", "--url", url, "--token", adminKey)
	key := strings.TrimSpace(stdout)
	if code != 0 || !strings.HasPrefix(key, auth.KeyPrefix) || !strings.Contains(stderr, "will not show it again") {
		t.Fatalf("keys create: exit %d, stdout %q, stderr %q; want the key alone on stdout", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "keys", "list", "--url", url, "--token", adminKey)
	if code != 0 || !strings.Contains(stdout, `"shop-web"`) || strings.Contains(stdout, key) {
		t.Errorf("keys list: exit %d, %s; want shop-web listed and the key nowhere", code, stdout)
	}
	t.Setenv("EVENTBUS_TOKEN", key) // the key from the environment, as a service would set it
	emit := func(id string) (int, string) {
		code, stdout, stderr := runCLI(t, "emit", "--url", url, "--bus", "shop", "--type", "order.created", "--source", "cli", "--id", id)
		return code, stdout + stderr
	}
	if code, out := emit("1"); code != 0 {
		t.Fatalf("emit with the new key in EVENTBUS_TOKEN: exit %d: %s", code, out)
	}
	if code, _, stderr := runCLI(t, "keys", "revoke", "shop-web", "--url", url, "--token", adminKey); code != 0 {
		t.Fatalf("keys revoke: exit %d: %s", code, stderr)
	}
	if code, out := emit("2"); code == 0 || !strings.Contains(out, "401") || !strings.Contains(out, "revoked") {
		t.Errorf("emit with the revoked key: exit %d: %s; want a 401 saying the key is wrong or revoked", code, out)
	}
}

// Off the loopback interface, serve needs auth: or an explicit opt-out.
func TestServeRefusesToRunOpenOffLoopback(t *testing.T) {
	code, _, stderr := runCLI(t, "serve", "--addr", "0.0.0.0:0", "--data-dir", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "refusing to serve on 0.0.0.0:0 without authentication") || !strings.Contains(stderr, "--insecure-no-auth") {
		t.Errorf("serve on 0.0.0.0 without auth: exit %d, %q; want a refusal naming auth: and --insecure-no-auth", code, stderr)
	}
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, ":8080": false, "0.0.0.0:8080": false, "10.0.0.5:8080": false} {
		if got := onLoopback(addr); got != want {
			t.Errorf("onLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
