// Command inventory is an eventbus plugin: for each order.created event it
// reserves the stock and replies stock.reserved, or stock.rejected when
// there is not enough. INVENTORY_STOCK sets the starting stock, as
// "sku=count,sku=count".
//
// Reservations are keyed by order id, so a redelivered event (the bus
// delivers at least once) reserves nothing twice.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/sdk/plugin"
)

type order struct {
	OrderID string `json:"order_id"`
	SKU     string `json:"sku"`
	Qty     int    `json:"qty"`
}

type inventory struct {
	mu       sync.Mutex
	stock    map[string]int
	reserved map[string]bool // order ids already reserved
}

func (inv *inventory) Handle(_ context.Context, e event.Event) (plugin.Result, error) {
	var o order
	if err := e.DataAs(&o); err != nil || o.OrderID == "" || o.Qty <= 0 {
		return plugin.DeadLetter(fmt.Sprintf("not an order: %v", err)), nil
	}
	inv.mu.Lock()
	typ := "stock.reserved"
	switch {
	case inv.reserved[o.OrderID]: // a redelivery: answer the same again
	case inv.stock[o.SKU] >= o.Qty:
		inv.stock[o.SKU] -= o.Qty
		inv.reserved[o.OrderID] = true
	default:
		typ = "stock.rejected"
	}
	inv.mu.Unlock()

	reply := event.New()
	reply.SetSource("inventory")
	reply.SetType(typ)
	reply.SetSubject(o.OrderID)
	if err := reply.SetData(event.ApplicationJSON, o); err != nil {
		return plugin.Result{}, err
	}
	return plugin.Ack(reply), nil
}

func parseStock(s string) (map[string]int, error) {
	stock := map[string]int{}
	for _, item := range strings.Split(s, ",") {
		if item == "" {
			continue
		}
		sku, n, ok := strings.Cut(item, "=")
		count, err := strconv.Atoi(n)
		if !ok || err != nil {
			return nil, fmt.Errorf("INVENTORY_STOCK item %q: want sku=count", item)
		}
		stock[sku] = count
	}
	return stock, nil
}

func main() {
	stock, err := parseStock(os.Getenv("INVENTORY_STOCK"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "inventory:", err)
		os.Exit(1)
	}
	plugin.Serve(&inventory{stock: stock, reserved: map[string]bool{}},
		plugin.Options{Name: "inventory", Version: "1.0.0", EventTypes: []string{"order.created"}})
}
