package bus_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/plugins"
	"github.com/eventbus-go/eventbus/router"
)

// A plugin handles an event and replies; the reply re-enters ingress and a
// second route delivers it, linked to its cause.
func TestPluginRepliesChainThroughTheBus(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "testplugin")
	if out, err := exec.Command("go", "build", "-o", bin, "../plugins/internal/testplugin").CombinedOutput(); err != nil {
		t.Fatalf("building the test plugin: %v\n%s", err, out)
	}
	hook := bustest.NewWebhook(t, nil)
	handler := router.Route{Name: "handler", Match: []byte(`{"type":["test.echo"]}`),
		Target: router.Target{Plugin: &router.PluginTarget{Name: "echo"}}}
	base := bustest.Start(t, bus.Config{
		Plugins: []plugins.Config{{Name: "echo", Cmd: bin}},
		Routes:  []router.Route{handler, route("replies", hook.URL, `{"type":["test.echoed"]}`)},
	}).URL
	bustest.Emit(t, base, "cause-1", map[string]string{"ce-type": "test.echo"})
	d := hook.Next(t)
	if d.Header.Get("Ce-Causationid") != "cause-1" || d.Header.Get("Ce-Correlationid") != "cause-1" {
		t.Errorf("reply headers %v: want causationid and correlationid cause-1", d.Header)
	}
	testkit.Eventually(t, 10*time.Second, "the handled event to be acked", func() bool { return stats(t, base, "handler").Delivered == 1 })
	// The route's consumers: its dispatcher's slots and the plugin's
	// running instance.
	st := stats(t, base, "handler")
	if st.Dispatchers != router.DefaultMaxInflight || st.Plugin == nil || st.Plugin.Name != "echo" || st.Plugin.Instances != 1 {
		t.Errorf("stats = %+v, plugin %+v; want %d dispatchers and plugin echo with 1 running instance", st, st.Plugin, router.DefaultMaxInflight)
	}
	if r := stats(t, base, "replies"); r.Plugin != nil {
		t.Errorf("an HTTP route's stats name a plugin: %+v", r.Plugin)
	}
}

// A route naming a plugin the config does not declare is refused on save.
func TestRouteToAnUndeclaredPluginIsRefused(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	status, body := do(t, "PUT", base+"/v1/routes/r", `{"target":{"plugin":{"name":"mailer"}}}`)
	if status != 400 || !strings.Contains(body, "target.plugin.name") {
		t.Fatalf("%d %s; want 400 naming target.plugin.name", status, body)
	}
}
