// Command web is the sign-up service: POST /signup {"email":…,"plan":…}
// emits a user.signed_up event to the bus and answers 202 at once; the
// mailer plugin sends the email in its own time.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/eventbus-go/eventbus/sdk"
)

func main() {
	busURL := flag.String("bus", "http://127.0.0.1:8080", "the bus's URL")
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve sign-ups on")
	flag.Parse()
	client, err := sdk.New(*busURL, sdk.Options{RetryFor: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("sign-ups on http://%s/signup, events to %s", *listen, *busURL)
	log.Fatal(http.ListenAndServe(*listen, newHandler(client)))
}

// newHandler serves POST /signup.
func newHandler(c *sdk.Client) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signup", func(w http.ResponseWriter, r *http.Request) {
		var s struct {
			Email string `json:"email"`
			Plan  string `json:"plan"`
		}
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil || s.Email == "" {
			http.Error(w, `send {"email": "...", "plan": "..."}`, http.StatusBadRequest)
			return
		}
		// (Store the user here.) Then tell whoever cares; the mailer is
		// not this service's business.
		e := event.New()
		e.SetID(uuid.NewString())
		e.SetSource("web/signup")
		e.SetType("user.signed_up")
		e.SetSubject(s.Email)
		_ = e.SetData(event.ApplicationJSON, s)
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if _, err := c.Emit(ctx, e); err != nil {
			http.Error(w, "sign-up saved, but the welcome email could not be queued: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("check your inbox\n"))
	})
	return mux
}
