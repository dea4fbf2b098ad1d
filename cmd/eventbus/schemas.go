package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/eventbus-go/eventbus/sdk"
)

func newSchemasCommand() *cobra.Command {
	var conn busFlags
	client := func() (*sdk.Client, error) { return conn.client(sdk.Options{}) }
	cmd := &cobra.Command{Use: "schemas", Short: "Save, show and delete the JSON Schemas of event types, and show inferred ones"}
	conn.register(cmd.PersistentFlags())

	var file string
	put := &cobra.Command{
		Use: "put TYPE -f FILE", Short: "Save a JSON Schema (JSON or YAML file) as the newest version of TYPE's schema", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			doc, err := yaml.YAMLToJSON(raw)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			c, err := client()
			if err != nil {
				return err
			}
			saved, err := c.PutSchema(cmd.Context(), args[0], doc)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema %s is at version %d\n", saved.Type, saved.Version)
			return nil
		},
	}
	put.Flags().StringVarP(&file, "file", "f", "", "the JSON Schema, JSON or YAML")
	_ = put.MarkFlagRequired("file")

	var version int
	get := &cobra.Command{
		Use: "get TYPE", Short: "Show the latest schema of TYPE, or --version N", Args: cobra.ExactArgs(1),
		RunE: printing(client, func(ctx context.Context, c *sdk.Client, args []string) (any, error) {
			return c.GetSchema(ctx, args[0], version)
		}),
	}
	get.Flags().IntVar(&version, "version", 0, "the version to show (default: the latest)")
	list := &cobra.Command{
		Use: "list", Short: "List the latest schema of every type", Args: cobra.NoArgs,
		RunE: printing(client, func(ctx context.Context, c *sdk.Client, _ []string) (any, error) {
			return c.ListSchemas(ctx)
		}),
	}
	var deleteVersion int
	del := &cobra.Command{
		Use: "delete TYPE", Short: "Delete TYPE's schema, or only --version N", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			if err := c.DeleteSchema(cmd.Context(), args[0], deleteVersion); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema %s deleted\n", args[0])
			return nil
		},
	}
	del.Flags().IntVar(&deleteVersion, "version", 0, "delete only this version")
	inferred := &cobra.Command{
		Use: "inferred BUS", Short: "Show the schemas BUS inferred from its traffic (with schemas: warn)", Args: cobra.ExactArgs(1),
		RunE: printing(client, func(ctx context.Context, c *sdk.Client, args []string) (any, error) {
			return c.InferredSchemas(ctx, args[0])
		}),
	}
	cmd.AddCommand(put, get, list, del, inferred)
	return cmd
}
