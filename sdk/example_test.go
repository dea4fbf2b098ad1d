package sdk_test

import (
	"context"
	"fmt"
	"log"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/eventbus-go/eventbus/sdk"
)

func ExampleClient_Emit() {
	c, err := sdk.New("http://127.0.0.1:8080", sdk.Options{})
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
}
