// Command orders is the order service: POST /orders {"sku":…,"qty":…}
// emits order.created and answers 202 with the order's id; the bus
// delivers the inventory's answer (stock.reserved or stock.rejected) back
// to POST /hooks/stock, and GET /orders/{id} shows the order's state.
// It never calls the inventory, nor knows it exists.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"

	"github.com/eventbus-go/eventbus/sdk"
)

func main() {
	busURL := flag.String("bus", "http://127.0.0.1:8080", "the bus's URL")
	listen := flag.String("listen", "127.0.0.1:8082", "address to serve orders on")
	flag.Parse()
	client, err := sdk.New(*busURL, sdk.Options{RetryFor: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("orders on http://%s/orders", *listen)
	log.Fatal(http.ListenAndServe(*listen, newService(client).handler()))
}

type service struct {
	bus    *sdk.Client
	mu     sync.Mutex
	states map[string]string // order id → pending | reserved | rejected
}

func newService(c *sdk.Client) *service { return &service{bus: c, states: map[string]string{}} }

func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", s.create)
	mux.HandleFunc("GET /orders/{id}", s.get)
	mux.HandleFunc("POST /hooks/stock", s.stock)
	return mux
}

type order struct {
	OrderID string `json:"order_id"`
	SKU     string `json:"sku"`
	Qty     int    `json:"qty"`
}

func (s *service) create(w http.ResponseWriter, r *http.Request) {
	var o order
	if err := json.NewDecoder(r.Body).Decode(&o); err != nil || o.SKU == "" || o.Qty <= 0 {
		http.Error(w, `send {"sku": "...", "qty": n}`, http.StatusBadRequest)
		return
	}
	o.OrderID = uuid.NewString()
	e := event.New()
	e.SetID(o.OrderID)
	e.SetSource("orders")
	e.SetType("order.created")
	e.SetSubject(o.OrderID)
	_ = e.SetData(event.ApplicationJSON, o)
	s.mu.Lock()
	s.states[o.OrderID] = "pending"
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.bus.Emit(ctx, e); err != nil {
		http.Error(w, "the order could not be queued: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"order_id": o.OrderID, "state": "pending"})
}

func (s *service) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	state, ok := s.states[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"order_id": r.PathValue("id"), "state": state})
}

// stock receives stock.reserved / stock.rejected from the bus (CloudEvents
// over HTTP, binary mode).
func (s *service) stock(w http.ResponseWriter, r *http.Request) {
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var o order
	if err := e.DataAs(&o); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	state := map[string]string{"stock.reserved": "reserved", "stock.rejected": "rejected"}[e.Type()]
	if state == "" {
		http.Error(w, "unexpected event type "+e.Type(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.states[o.OrderID] = state
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
