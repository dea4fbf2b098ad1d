// Command shop runs a flash sale against the bus. Many shoppers order the
// one item on sale at the same moment: each order is an order.placed event,
// emitted with the SDK. The bus's flash route queues the first 100 for the
// warehouse and diverts the rest to the sold-out route (bus.yaml); the
// shop reads which happened from each 202 result and prints the tally.
//
// The shop also serves both routes' targets: POST /warehouse, which takes
// no order until the sale has ended (so the 100 places of the queue are
// the 100 items on sale), and POST /sold-out, which tells a shopper the
// item is gone. It exits once every order reached one of them.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"

	"github.com/eventbus-go/eventbus/sdk"
)

// The routes of bus.yaml.
const (
	queueRoute   = "flash"
	soldOutRoute = "sold-out"
)

func main() {
	busURL := flag.String("bus", "http://127.0.0.1:8080", "the bus's URL")
	listen := flag.String("listen", "127.0.0.1:8083", "address of the warehouse and sold-out hooks (the targets in bus.yaml)")
	orders := flag.Int("orders", 1000, "how many shoppers order at once")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	client, err := sdk.New(*busURL, sdk.Options{HTTPClient: &http.Client{Transport: shoppersTransport()}})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	s := newShop(client)
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	t := s.rush(ctx, *orders)
	fmt.Printf("%d orders: %d queued, %d sold out, %d failed\n", *orders, len(t.Queued), len(t.SoldOut), len(t.Failed))
	for _, err := range t.Failed {
		fmt.Println("  failed:", err)
	}
	s.endSale()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.awaitDeliveries(wait, t); err != nil {
		log.Fatal(err)
	}
	packed, told := s.delivered()
	fmt.Printf("the warehouse packed %d orders; %d shoppers saw the sold-out page\n", countIn(t.Queued, packed), countIn(t.SoldOut, told))
}

// shoppersTransport keeps a connection per concurrent shopper, where the
// default keeps two and dials anew for the others.
func shoppersTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = shoppers
	return tr
}

// tally is where the bus put each order of a rush, by order id.
type tally struct {
	Queued  []string // stored on the flash route, for the warehouse
	SoldOut []string // diverted to the sold-out route
	Failed  []error  // not stored: the shopper got an error
}

type shop struct {
	bus      *sdk.Client
	saleOver chan struct{} // closed by endSale: the warehouse opens
	endOnce  sync.Once

	mu       sync.Mutex
	packed   map[string]bool // order ids the warehouse took
	told     map[string]bool // order ids the sold-out page answered
	progress chan struct{}   // a token whenever packed or told grows
}

func newShop(c *sdk.Client) *shop {
	return &shop{
		bus:      c,
		saleOver: make(chan struct{}),
		packed:   map[string]bool{},
		told:     map[string]bool{},
		progress: make(chan struct{}, 1),
	}
}

type order struct {
	OrderID string `json:"order_id"`
	Item    string `json:"item"`
	Qty     int    `json:"qty"`
}

// shoppers bounds the orders in flight at once.
const shoppers = 64

// rush has n shoppers order at once, at most shoppers requests in flight.
func (s *shop) rush(ctx context.Context, n int) tally {
	var (
		mu sync.Mutex
		t  tally
		wg sync.WaitGroup
	)
	ids := make(chan string)
	for range min(n, shoppers) {
		wg.Go(func() {
			for id := range ids {
				where, err := s.placeOrder(ctx, id)
				mu.Lock()
				switch {
				case err != nil:
					t.Failed = append(t.Failed, err)
				case where == soldOutRoute:
					t.SoldOut = append(t.SoldOut, id)
				default:
					t.Queued = append(t.Queued, id)
				}
				mu.Unlock()
			}
		})
	}
	for range n {
		ids <- uuid.NewString()
	}
	close(ids)
	wg.Wait()
	return t
}

// placeOrder emits one order and says which route stored it.
func (s *shop) placeOrder(ctx context.Context, id string) (string, error) {
	e := event.New()
	e.SetID(id)
	e.SetSource("shop/web")
	e.SetType("order.placed")
	e.SetSubject(id)
	_ = e.SetData(event.ApplicationJSON, order{OrderID: id, Item: "flash-1", Qty: 1})
	res, err := s.bus.Emit(ctx, e)
	if err != nil {
		return "", fmt.Errorf("order %s: %w", id, err)
	}
	// Past the flash route's max_depth the 202 still says "stored", and
	// the route that stored it is sold-out (its overflow entry reads
	// {"route":"flash","action":"divert","to":"sold-out"}).
	for _, r := range []string{soldOutRoute, queueRoute} {
		if slices.Contains(res.Routes, r) {
			return r, nil
		}
	}
	return "", fmt.Errorf("order %s was stored on %v, neither %s nor %s: is the bus running with bus.yaml?", id, res.Routes, queueRoute, soldOutRoute)
}

// endSale opens the warehouse to the queued orders.
func (s *shop) endSale() { s.endOnce.Do(func() { close(s.saleOver) }) }

// awaitDeliveries returns once every order of t reached the warehouse or
// the sold-out page, or ctx ends.
func (s *shop) awaitDeliveries(ctx context.Context, t tally) error {
	for {
		packed, told := s.delivered()
		p, o := countIn(t.Queued, packed), countIn(t.SoldOut, told)
		if p == len(t.Queued) && o == len(t.SoldOut) {
			return nil
		}
		select {
		case <-s.progress:
		case <-ctx.Done():
			return fmt.Errorf("waiting for deliveries: the warehouse has %d of %d orders, the sold-out page %d of %d: %w",
				p, len(t.Queued), o, len(t.SoldOut), ctx.Err())
		}
	}
}

// countIn counts the ids that are in set.
func countIn(ids []string, set map[string]bool) int {
	n := 0
	for _, id := range ids {
		if set[id] {
			n++
		}
	}
	return n
}

// delivered returns the order ids the warehouse and the sold-out page got.
func (s *shop) delivered() (packed, told map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.packed), maps.Clone(s.told)
}

func (s *shop) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /warehouse", func(w http.ResponseWriter, r *http.Request) {
		// Hold the delivery until the sale ends: an order in delivery is
		// still in the route's queue, so the queue never makes room for a
		// 101st order while the sale runs.
		select {
		case <-s.saleOver:
		case <-r.Context().Done():
			return
		}
		s.receive(w, r, s.packed)
	})
	mux.HandleFunc("POST /sold-out", func(w http.ResponseWriter, r *http.Request) {
		// A real shop would tell the shopper here (a page, an email).
		s.receive(w, r, s.told)
	})
	return mux
}

// receive records the order of the CloudEvent in r into set.
func (s *shop) receive(w http.ResponseWriter, r *http.Request, set map[string]bool) {
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var o order
	if err := e.DataAs(&o); err != nil || o.OrderID == "" {
		http.Error(w, fmt.Sprintf("not an order (%v): %s", err, e.Data()), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	set[o.OrderID] = true // a redelivery is recorded once
	s.mu.Unlock()
	select {
	case s.progress <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}
