package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eventbus-go/eventbus/sdk"
)

func newKeysCommand() *cobra.Command {
	var conn busFlags
	client := func() (*sdk.Client, error) { return conn.client(sdk.Options{}) }
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke the bus's API keys (auth.admins only)"}
	conn.register(cmd.PersistentFlags())

	var groups string
	create := &cobra.Command{
		Use: "create NAME --groups a,b", Short: "Create a key and print it, the one time the bus shows it", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			var gs []string
			for g := range strings.SplitSeq(groups, ",") {
				if g = strings.TrimSpace(g); g != "" {
					gs = append(gs, g)
				}
			}
			k, err := c.CreateKey(cmd.Context(), args[0], gs)
			if err != nil {
				return err
			}
			// The key alone on stdout, so a script can capture it; the
			// note goes to stderr.
			fmt.Fprintln(cmd.OutOrStdout(), k.Secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "key %s created with groups [%s]: store it now, the bus will not show it again\n", k.Name, strings.Join(k.Groups, ", "))
			return nil
		},
	}
	create.Flags().StringVar(&groups, "groups", "", "comma-separated groups the key belongs to")
	list := &cobra.Command{
		Use: "list", Short: "List the keys: names, groups, creation times (never the keys)", Args: cobra.NoArgs,
		RunE: printing(client, func(ctx context.Context, c *sdk.Client, _ []string) (any, error) {
			return c.ListKeys(ctx)
		}),
	}
	revoke := &cobra.Command{
		Use: "revoke NAME", Short: "Revoke a key: the bus refuses it from now on", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			if err := c.RevokeKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
