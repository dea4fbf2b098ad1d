package crash

import (
	"fmt"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters/activemq"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
)

// activemqBackend is the broker of EVENTBUS_TEST_ACTIVEMQ, by default the
// one scripts/activemq.sh runs.
func activemqBackend(t *testing.T) string {
	return adaptertest.Server{
		Env:     "EVENTBUS_TEST_ACTIVEMQ",
		Default: "activemq://127.0.0.1:61613",
		Start:   "scripts/activemq.sh start",
		Open:    activemq.Open,
	}.URL(t).String()
}

// `eventbus serve --backend activemq://...` keeps what it accepted across a
// kill -9 of the bus: what the killed bus held unacked the broker hands out
// again as soon as its connection drops.
func TestKillNineOnActiveMQLosesNoAcceptedEvent(t *testing.T) {
	backend := activemqBackend(t)
	route := fmt.Sprintf("crash-activemq-%d", time.Now().UnixNano())
	killWithTargetDown(t, route, "ActiveMQ", func(dir string) []string {
		return []string{"--backend", backend, "--data-dir", dir + "/data", "--log-level", "warn"}
	})
}
