package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eventbus-go/eventbus/sdk"
)

func newDLQCommand() *cobra.Command {
	var conn busFlags
	client := func() (*sdk.Client, error) { return conn.client(sdk.Options{}) }
	cmd := &cobra.Command{Use: "dlq", Short: "List a route's dead letters, or put them back for delivery"}
	conn.register(cmd.PersistentFlags())

	var limit, offset int
	list := &cobra.Command{
		Use: "list ROUTE", Short: "Print a route's dead letters with why they failed", Args: cobra.ExactArgs(1),
		RunE: printing(client, func(ctx context.Context, c *sdk.Client, args []string) (any, error) {
			return c.DeadLetters(ctx, args[0], sdk.PageOptions{Limit: limit, Offset: offset})
		}),
	}
	list.Flags().IntVar(&limit, "limit", 50, "how many to print")
	list.Flags().IntVar(&offset, "offset", 0, "how many to skip")

	var ids []string
	redrive := &cobra.Command{
		Use: "redrive ROUTE [--id ID]...", Short: "Put dead letters back on the route for another round of attempts", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			n, err := c.Redrive(cmd.Context(), args[0], ids...)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d dead letters of %s redriven\n", n, args[0])
			return nil
		},
	}
	redrive.Flags().StringArrayVar(&ids, "id", nil, "only the dead letter with this event id (repeatable; default all)")
	cmd.AddCommand(list, redrive)
	return cmd
}
