package main

import (
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/sdk/plugin"
	"github.com/eventbus-go/eventbus/sdk/plugin/plugintest"
	"github.com/eventbus-go/eventbus/verdict"
)

// The handler's own unit test, in-process with plugintest.
func TestReservesOnceAndRejectsWhatIsNotInStock(t *testing.T) {
	p := plugintest.New(t, &inventory{stock: map[string]int{"sku-1": 3}, reserved: map[string]bool{}}, plugin.Options{})
	deliver := func(id string, qty int) string {
		e := event.New()
		e.SetID(id)
		e.SetSource("orders")
		e.SetType("order.created")
		_ = e.SetData(event.ApplicationJSON, order{OrderID: id, SKU: "sku-1", Qty: qty})
		res, err := p.Deliver(t.Context(), e)
		if err != nil || res.Verdict != verdict.Ack || len(res.Replies) != 1 {
			t.Fatalf("order %s: %+v, %v; want an ack with one reply", id, res, err)
		}
		return res.Replies[0].Type()
	}
	if got := deliver("o1", 2); got != "stock.reserved" {
		t.Errorf("o1 (2 of 3 in stock) replied %s", got)
	}
	if got := deliver("o1", 2); got != "stock.reserved" {
		t.Errorf("o1 redelivered replied %s; want the same answer, and no second reservation", got)
	}
	if got := deliver("o2", 2); got != "stock.rejected" {
		t.Errorf("o2 (2 wanted, 1 left) replied %s", got)
	}
}
