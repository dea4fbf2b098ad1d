package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/eventbus-go/eventbus/sdk"
)

func newSchedulesCommand() *cobra.Command {
	var conn busFlags
	client := func() (*sdk.Client, error) { return conn.client(sdk.Options{}) }
	cmd := &cobra.Command{Use: "schedules", Short: "List, show, apply and delete schedules"}
	conn.register(cmd.PersistentFlags())

	list := &cobra.Command{
		Use: "list", Short: "List every schedule with its last and next firing", Args: cobra.NoArgs,
		RunE: printing(client, func(ctx context.Context, c *sdk.Client, _ []string) (any, error) {
			return c.ListSchedules(ctx)
		}),
	}
	get := &cobra.Command{
		Use: "get NAME", Short: "Show one schedule", Args: cobra.ExactArgs(1),
		RunE: printing(client, func(ctx context.Context, c *sdk.Client, args []string) (any, error) {
			return c.GetSchedule(ctx, args[0])
		}),
	}
	var file string
	apply := &cobra.Command{
		Use: "apply -f FILE", Short: "Create or replace the schedule in a YAML or JSON file", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			doc, err := yaml.YAMLToJSON(raw)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			var s sdk.Schedule
			if err := decodeStrict(doc, &s); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			c, err := client()
			if err != nil {
				return err
			}
			saved, err := c.PutSchedule(cmd.Context(), s)
			if err != nil {
				return fmt.Errorf("schedule %q: %w", s.Name, err)
			}
			next := "never again"
			if saved.Next != nil {
				next = saved.Next.String()
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schedule %s applied; next firing: %s\n", saved.Name, next)
			return nil
		},
	}
	apply.Flags().StringVarP(&file, "file", "f", "", "YAML or JSON file of one schedule")
	_ = apply.MarkFlagRequired("file")
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a schedule", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			if err := c.DeleteSchedule(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schedule %s deleted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, get, apply, del)
	return cmd
}
