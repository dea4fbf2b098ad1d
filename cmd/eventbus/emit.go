package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/eventbus-go/eventbus/sdk"
)

func newEmitCommand() *cobra.Command {
	var (
		typ, source, id, subject, data, contentType, busName string
		conn                                                 busFlags
		extensions                                           []string
	)
	cmd := &cobra.Command{
		Use:   "emit --type T --source S [--data JSON|@file]",
		Short: "Send one CloudEvent to the bus and print the routes that stored it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e := event.New()
			if id == "" {
				id = uuid.NewString()
			}
			e.SetID(id)
			e.SetType(typ)
			e.SetSource(source)
			if subject != "" {
				e.SetSubject(subject)
			}
			for _, kv := range extensions {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--ext %q: use name=value", kv)
				}
				e.SetExtension(k, v)
			}
			if data != "" {
				body, err := readArg(data)
				if err != nil {
					return fmt.Errorf("--data: %w", err)
				}
				if contentType == "" {
					if !json.Valid(body) {
						return fmt.Errorf("--data is not JSON: set --content-type for other data")
					}
					contentType = "application/json"
				}
				if err := e.SetData(contentType, body); err != nil {
					return fmt.Errorf("--data: %w", err)
				}
			}
			if err := e.Validate(); err != nil {
				return &exitError{code: 2, err: err}
			}
			c, err := conn.client(sdk.Options{Bus: busName})
			if err != nil {
				return err
			}
			res, err := c.Emit(cmd.Context(), e)
			if err != nil {
				return err
			}
			return printJSON(cmd, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&typ, "type", "", "event type (required)")
	f.StringVar(&source, "source", "", "event source (required)")
	f.StringVar(&id, "id", "", "event id (default: a new UUID)")
	f.StringVar(&subject, "subject", "", "event subject")
	f.StringVar(&data, "data", "", "event data: JSON, or @file")
	f.StringVar(&contentType, "content-type", "", "data content type (default application/json)")
	f.StringArrayVar(&extensions, "ext", nil, "extension attribute name=value (repeatable)")
	f.StringVar(&busName, "bus", "", "bus name (default: default)")
	conn.register(f)
	_ = cmd.MarkFlagRequired("type")
	_ = cmd.MarkFlagRequired("source")
	return cmd
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printing is the RunE of a command that asks the bus one thing and prints
// the answer as JSON: call gets a client from client and the command's
// arguments.
func printing(client func() (*sdk.Client, error), call func(ctx context.Context, c *sdk.Client, args []string) (any, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := client()
		if err != nil {
			return err
		}
		v, err := call(cmd.Context(), c, args)
		if err != nil {
			return err
		}
		return printJSON(cmd, v)
	}
}
