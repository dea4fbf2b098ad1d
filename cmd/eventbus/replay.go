package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/eventbus-go/eventbus/sdk"
)

func newReplayCommand() *cobra.Command {
	var conn busFlags
	client := func() (*sdk.Client, error) { return conn.client(sdk.Options{}) }
	cmd := &cobra.Command{Use: "replay", Short: "Replay a bus's archived events into a route, and follow or cancel replays"}
	conn.register(cmd.PersistentFlags())

	var from, until, rate string
	start := &cobra.Command{
		Use:   "start ROUTE --from POSITION [--until POSITION] [--rate R]",
		Short: "Replay the archive of the route's bus into the route",
		Long: `POSITION is "earliest", an archive sequence number (42), an RFC 3339 time
(2026-05-01T12:00:00Z), or a duration ago (2h).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := sdk.ReplayRequest{Rate: rate}
			p, err := parsePosition("--from", from, time.Now())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			req.From = p
			if until != "" {
				p, err := parsePosition("--until", until, time.Now())
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				req.Until = &p
			}
			c, err := client()
			if err != nil {
				return err
			}
			rp, err := c.StartReplay(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return printJSON(cmd, rp)
		},
	}
	start.Flags().StringVar(&from, "from", "", "where to start (required): earliest, a sequence, an RFC 3339 time or a duration ago")
	start.Flags().StringVar(&until, "until", "", "the last position replayed (default: the last event archived when the replay starts)")
	start.Flags().StringVar(&rate, "rate", "", "events per second, minute or hour, such as 500/s (default 1000/s)")
	_ = start.MarkFlagRequired("from")

	// onReplay is a command on one replay of a route that prints it.
	onReplay := func(use, short string, call func(*sdk.Client, context.Context, string, string) (sdk.Replay, error)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := client()
				if err != nil {
					return err
				}
				rp, err := call(c, cmd.Context(), args[0], args[1])
				if err != nil {
					return err
				}
				return printJSON(cmd, rp)
			},
		}
	}
	status := onReplay("status ROUTE ID", "Print a replay's progress", (*sdk.Client).GetReplay)
	cancel := onReplay("cancel ROUTE ID", "Stop a replay; events it already stored stay on the route", (*sdk.Client).CancelReplay)
	list := &cobra.Command{
		Use: "list ROUTE", Short: "Print the route's replays, newest first", Args: cobra.ExactArgs(1),
		RunE: printing(client, func(ctx context.Context, c *sdk.Client, args []string) (any, error) {
			return c.ListReplays(ctx, args[0])
		}),
	}
	cmd.AddCommand(start, status, list, cancel)
	return cmd
}

// parsePosition reads a replay position: earliest, a sequence, an RFC 3339
// time, or a duration before now.
func parsePosition(flag, s string, now time.Time) (sdk.ReplayPosition, error) {
	if s == "earliest" {
		return sdk.ReplayPosition{Sequence: 1}, nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil && n > 0 {
		return sdk.ReplayPosition{Sequence: n}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return sdk.ReplayPosition{Time: &t}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		t := now.Add(-d).UTC()
		return sdk.ReplayPosition{Time: &t}, nil
	}
	return sdk.ReplayPosition{}, fmt.Errorf("%s %q is not earliest, a sequence number from 1, an RFC 3339 time such as 2026-05-01T12:00:00Z, or a duration ago such as 2h", flag, s)
}
