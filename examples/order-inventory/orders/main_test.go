package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
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
	defer web.Close()

	cfg, err := bus.LoadConfig("../bus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Plugins[0].Cmd = bin
	cfg.Routes[1].Target.HTTP.URL = web.URL + "/hooks/stock"
	ctx, cancel := context.WithCancel(context.Background())
	b, err := bus.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bus: %v", err)
		}
	}()
	if svc.bus, err = sdk.New("http://"+ln.Addr().String(), sdk.Options{}); err != nil {
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
