package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/sdk"
)

// The whole chain: an order is emitted, the inventory plugin replies, the
// bus routes the reply back to the order service, which never called the
// inventory.
func TestOrderIsReservedThroughTheInventoryPlugin(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "inventory")
	if out, err := exec.Command("go", "build", "-o", bin, "../inventory").CombinedOutput(); err != nil {
		t.Fatalf("building the inventory: %v\n%s", err, out)
	}
	// The order service first: the bus config needs its hook URL.
	svc := newService(nil)
	web := httptest.NewServer(svc.handler())
	t.Cleanup(web.Close) // after the bus stops: Start registers its cleanup later

	cfg, err := bus.LoadConfig("../bus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Plugins[0].Cmd = bin
	cfg.Routes[1].Target.HTTP.URL = web.URL + "/hooks/stock"
	srv := bustest.Start(t, cfg)
	if svc.bus, err = sdk.New(srv.URL, sdk.Options{}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ body, want string }{
		{`{"sku":"sku-1","qty":2}`, "reserved"},
		{`{"sku":"sku-2","qty":1}`, "rejected"}, // none in stock
	} {
		resp, err := http.Post(web.URL+"/orders", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var created struct {
			OrderID string `json:"order_id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || created.OrderID == "" {
			t.Fatalf("POST /orders %s: %d %+v; want 202 with an order id", tc.body, resp.StatusCode, created)
		}
		testkit.EventuallyNoError(t, 10*time.Second, func() error {
			resp, err := http.Get(web.URL + "/orders/" + created.OrderID)
			if err != nil {
				t.Fatal(err)
			}
			var got struct{ State string }
			_ = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if got.State != tc.want {
				return fmt.Errorf("order %s is %q; want %q", tc.body, got.State, tc.want)
			}
			return nil
		})
	}
}
