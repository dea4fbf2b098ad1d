package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
)

// schemas put/get and schedules apply/list/delete work against a bus, and a
// bad schema fails naming the place in it.
func TestSchemasAndSchedulesCommands(t *testing.T) {
	url := bustest.Start(t, bus.Config{}).URL
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("order.yaml", "type: object\nrequired: [total]\n")
	if code, out, errOut := runCLI(t, "schemas", "put", "order.created", "-f", good, "--url", url); code != 0 || !strings.Contains(out, "version 1") {
		t.Fatalf("schemas put: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "schemas", "get", "order.created", "--url", url); code != 0 || !strings.Contains(out, `"required"`) {
		t.Fatalf("schemas get: %d %s %s", code, out, errOut)
	}
	bad := write("bad.json", `{"type": "integr"}`)
	if code, _, errOut := runCLI(t, "schemas", "put", "bad", "-f", bad, "--url", url); code == 0 || !strings.Contains(errOut, "schema.type") {
		t.Fatalf("schemas put of a bad schema: exit %d, %s; want a failure naming schema.type", code, errOut)
	}

	sched := write("nightly.yaml", "name: nightly\ncron: '0 2 * * *'\ntime_zone: Europe/Berlin\nevent: {type: report.due, data: {scope: all}}\n")
	if code, out, errOut := runCLI(t, "schedules", "apply", "-f", sched, "--url", url); code != 0 || !strings.Contains(out, "next firing") {
		t.Fatalf("schedules apply: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "schedules", "list", "--url", url); code != 0 || !strings.Contains(out, `"nightly"`) || !strings.Contains(out, `"next"`) {
		t.Fatalf("schedules list: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "schedules", "delete", "nightly", "--url", url); code != 0 {
		t.Fatalf("schedules delete: %d %s %s", code, out, errOut)
	}
}
