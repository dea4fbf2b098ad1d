package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/eventbus-go/eventbus/sdk"
)

func newRoutesCommand() *cobra.Command {
	var conn busFlags
	client := func() (*sdk.Client, error) { return conn.client(sdk.Options{}) }
	cmd := &cobra.Command{Use: "routes", Short: "List, show, apply and delete routes"}
	conn.register(cmd.PersistentFlags())

	list := &cobra.Command{
		Use: "list", Short: "List every route", Args: cobra.NoArgs,
		RunE: printing(client, func(ctx context.Context, c *sdk.Client, _ []string) (any, error) {
			return c.ListRoutes(ctx)
		}),
	}
	get := &cobra.Command{
		Use: "get NAME", Short: "Show one route", Args: cobra.ExactArgs(1),
		RunE: printing(client, func(ctx context.Context, c *sdk.Client, args []string) (any, error) {
			return c.GetRoute(ctx, args[0])
		}),
	}
	var file string
	apply := &cobra.Command{
		Use: "apply -f FILE", Short: "Create or replace the routes in a YAML or JSON file", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			routes, err := readRoutesFile(file)
			if err != nil {
				return err
			}
			c, err := client()
			if err != nil {
				return err
			}
			for _, r := range routes {
				saved, err := c.PutRoute(cmd.Context(), r)
				if err != nil {
					return fmt.Errorf("route %q: %w", r.Name, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "route %s applied\n", r.Name)
				if h := saved.Target.HTTP; h != nil && h.Signing != nil && h.Signing.Secret != "" {
					// The bus generated it and will not show it again.
					fmt.Fprintf(cmd.OutOrStdout(), "route %s signs its deliveries with %s (shown once: give it to the receiver now)\n", r.Name, h.Signing.Secret)
				}
			}
			return nil
		},
	}
	apply.Flags().StringVarP(&file, "file", "f", "", "YAML or JSON file: one route, a list, or {routes: [...]}")
	_ = apply.MarkFlagRequired("file")
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a route and the events waiting in it", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			if err := c.DeleteRoute(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "route %s deleted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, get, apply, del)
	return cmd
}

// readRoutesFile reads one route, a list of routes, or a config-style
// {routes: [...]} document. Unknown fields are errors.
func readRoutesFile(path string) ([]sdk.Route, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var routes []sdk.Route
	var top map[string]json.RawMessage
	switch {
	case bytes.HasPrefix(bytes.TrimSpace(doc), []byte("[")):
		err = decodeStrict(doc, &routes)
	case json.Unmarshal(doc, &top) == nil && top["routes"] != nil:
		// A config file: take its routes, ignore the rest.
		err = decodeStrict(top["routes"], &routes)
	default:
		var r sdk.Route
		err = decodeStrict(doc, &r)
		routes = []sdk.Route{r}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("%s holds no routes", path)
	}
	return routes, nil
}

func decodeStrict(doc []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
