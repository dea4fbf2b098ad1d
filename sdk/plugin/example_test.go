package plugin_test

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/sdk/plugin"
)

// A mailer plugin's handler. Its program's main hands it to the bus with
//
//	plugin.Serve(mailer, plugin.Options{Name: "mailer", Version: "1.0.0", EventTypes: []string{"user.signed_up"}})
//
// and the bus config runs it (plugins: [{name: mailer, cmd: ./mailer}]).
// Here the handler is called directly, as plugintest does in a unit test.
func ExampleHandlerFunc() {
	mailer := plugin.HandlerFunc(func(ctx context.Context, e event.Event) (plugin.Result, error) {
		var user struct {
			Email string `json:"email"`
		}
		if err := e.DataAs(&user); err != nil || user.Email == "" {
			// Retrying will not fix a bad event: keep it for a person.
			return plugin.DeadLetter("no email in the event"), nil
		}
		// Send the verification code to user.Email here. An error (the
		// mail server is down) means: deliver it again later.
		return plugin.Ack(), nil
	})

	for _, data := range []string{`{"email":"ada@example.com"}`, `{"plan":"pro"}`} {
		e := event.New()
		e.SetID("1")
		e.SetSource("web/signup")
		e.SetType("user.signed_up")
		_ = e.SetData(event.ApplicationJSON, []byte(data))
		res, err := mailer.Handle(context.Background(), e)
		if err != nil {
			fmt.Println(data, "→ error, to be delivered again:", err)
			continue
		}
		fmt.Printf("%s → %v %q\n", data, res.Verdict, res.Reason)
	}
	// Output:
	// {"email":"ada@example.com"} → ack ""
	// {"plan":"pro"} → dead-letter "no email in the event"
}
