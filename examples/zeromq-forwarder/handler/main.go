// Command handler is the HTTP end of a ZeroMQ forwarder. The bus
// subscribes to a ZeroMQ feed of stock ticks (bus.yaml's nasdaq source)
// and delivers each as a tick.received event to POST /tick here; the
// handler prices it in cents and emits tick.priced back to the bus, whose
// ticks-out route publishes it on a ZeroMQ PUB socket for subscribers
// that never speak HTTP.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/eventbus-go/eventbus/sdk"
)

func main() {
	busURL := flag.String("bus", "http://127.0.0.1:8080", "the bus's URL")
	listen := flag.String("listen", "127.0.0.1:8085", "address of POST /tick (the ticks route's target)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	client, err := sdk.New(*busURL, sdk.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: handler(client), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Printf("handling ticks on http://%s/tick", ln.Addr())
	<-ctx.Done()
	_ = srv.Close()
}

// Tick is what the feed publishes.
type Tick struct {
	Symbol string  `json:"symbol"`
	Price  float64 `json:"price"`
}

// Priced is what the handler emits.
type Priced struct {
	Symbol string `json:"symbol"`
	Cents  int64  `json:"cents"`
}

// handler answers 2xx once the priced tick is stored on the bus, so a
// failure to emit makes the bus retry the tick.
func handler(bus *sdk.Client) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tick", func(w http.ResponseWriter, r *http.Request) {
		in, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var tick Tick
		if err := in.DataAs(&tick); err != nil || tick.Symbol == "" {
			// Not a tick: dead-letter it rather than retry.
			http.Error(w, fmt.Sprintf("not a tick: %v", err), http.StatusUnprocessableEntity)
			return
		}
		out := event.New()
		out.SetID(in.ID())
		out.SetSource("/handlers/pricer")
		out.SetType("tick.priced")
		out.SetSubject(in.Subject())
		if err := out.SetData(event.ApplicationJSON, Priced{Symbol: tick.Symbol, Cents: int64(math.Round(tick.Price * 100))}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if _, err := bus.Emit(r.Context(), out); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
