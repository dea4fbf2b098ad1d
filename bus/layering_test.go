package bus

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The core speaks no HTTP: it returns typed results and errcode errors, and
// only package httpapi picks statuses. Neither it nor anything it builds
// on may import the HTTP API; its own imports hold no net/http (the HTTP
// targets of package delivery are clients, and third-party clients bring
// net/http along, so the check is on the core's own imports).
func TestTheCoreImportsNoNetHTTP(t *testing.T) {
	const core = "github.com/eventbus-go/eventbus/bus"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		if pkg == core+"/httpapi" {
			t.Errorf("the core depends on %s: dependencies must point from the HTTP API to the core, never back", pkg)
		}
		if pkg == core && slices.Contains(imports, "net/http") {
			t.Errorf("package bus imports net/http: HTTP belongs in package httpapi, the core returns typed results")
		}
	}
}
