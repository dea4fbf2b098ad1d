package main

import (
	"github.com/eventbus-go/eventbus/sdk"

	"github.com/spf13/cobra"
)

func newEventsCommand() *cobra.Command {
	var conn busFlags
	cmd := &cobra.Command{Use: "events", Short: "Find out what became of an event the bus accepted"}
	conn.register(cmd.PersistentFlags())

	var busName, source, id string
	get := &cobra.Command{
		Use:   "get --source S --id I [--bus B]",
		Short: "Print when the bus accepted an event, the routes it matched and each route's state and attempts",
		Long: `get looks the event up in the bus's history of recent events (bounded by
count and age: history.max_events and history.max_age in the serve config).
An event that is not there was not accepted by that bus process, or aged out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(sdk.Options{})
			if err != nil {
				return err
			}
			fate, err := c.Event(cmd.Context(), busName, source, id)
			if err != nil {
				return err
			}
			return printJSON(cmd, fate)
		},
	}
	f := get.Flags()
	f.StringVar(&busName, "bus", "", "the bus the event was sent to (default: default)")
	f.StringVar(&source, "source", "", "the event's source attribute")
	f.StringVar(&id, "id", "", "the event's id attribute")
	_ = get.MarkFlagRequired("source")
	_ = get.MarkFlagRequired("id")
	cmd.AddCommand(get)
	return cmd
}
