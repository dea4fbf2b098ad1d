package sdk_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/sdk"
)

func ExampleClient_Emit() {
	busURL, stop := exampleBus() // your bus's URL, e.g. http://127.0.0.1:8080
	defer stop()

	c, err := sdk.New(busURL, sdk.Options{})
	if err != nil {
		log.Fatal(err)
	}
	e := event.New()
	e.SetID(uuid.NewString())
	e.SetSource("web/signup")
	e.SetType("user.signed_up")
	_ = e.SetData(event.ApplicationJSON, map[string]string{"email": "ada@example.com"})

	res, err := c.Emit(context.Background(), e)
	switch {
	case sdk.IsInvalid(err):
		log.Fatalf("fix the event: %v", err) // *sdk.Error.Fields names the fields
	case err != nil:
		log.Fatalf("not stored; try again later: %v", err) // 429/503 were already retried
	}
	fmt.Println("stored on", res.Routes)
	// Output: stored on [welcome-mail]
}

// exampleBus runs a bus in this process with one route, welcome-mail, that
// takes user.signed_up events to a mailer answering 204; stop ends both.
func exampleBus() (url string, stop func()) {
	mailer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	srv, err := bustest.Serve(bus.Config{Routes: []router.Route{{
		Name:   "welcome-mail",
		Match:  []byte(`{"type":["user.signed_up"]}`),
		Target: router.Target{HTTP: &router.HTTPTarget{URL: mailer.URL}},
	}}})
	if err != nil {
		log.Fatal(err)
	}
	return srv.URL, func() {
		if err := srv.Close(); err != nil {
			log.Print(err)
		}
		mailer.Close()
	}
}
