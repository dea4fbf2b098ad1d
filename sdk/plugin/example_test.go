package plugin_test

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/sdk/plugin"
)

// A mailer plugin: its main calls Serve, and the bus config runs it
// (plugins: [{name: mailer, cmd: ./mailer}]).
func ExampleServe() {
	log := plugin.Logger()
	mailer := plugin.HandlerFunc(func(ctx context.Context, e event.Event) (plugin.Result, error) {
		var user struct {
			Email string `json:"email"`
		}
		if err := e.DataAs(&user); err != nil || user.Email == "" {
			// Retrying will not fix a bad event: keep it for a person.
			return plugin.DeadLetter(fmt.Sprintf("no email in the event: %v", err)), nil
		}
		log.Info("sending the verification code", "to", user.Email, "event_id", e.ID())
		// An error here (the mail server is down) means: deliver it again later.
		return plugin.Ack(), nil
	})
	plugin.Serve(mailer, plugin.Options{Name: "mailer", Version: "1.0.0", EventTypes: []string{"user.signed_up"}})
}
