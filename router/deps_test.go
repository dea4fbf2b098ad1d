package router_test

import (
	"os/exec"
	"strings"
	"testing"
)

// eventbus test-pattern and POST /v1/test-pattern run on this package
// alone, so checking a rule offline must not link a backend's client.
func TestRouterLinksNoBackendClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, client := range []string{
		"github.com/rabbitmq/amqp091-go",
		"github.com/twmb/franz-go",
		"github.com/aws/aws-sdk-go-v2",
		"gocloud.dev",
		"github.com/eventbus-go/eventbus/adapters",
		"github.com/eventbus-go/eventbus/bus",
	} {
		for _, dep := range strings.Fields(string(out)) {
			if dep == client || strings.HasPrefix(dep, client+"/") {
				t.Errorf("router depends on %s", dep)
			}
		}
	}
}
