package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

func newTestPatternCommand() *cobra.Command {
	var pattern, filters, program, eventDoc string
	cmd := &cobra.Command{
		Use:   "test-pattern --pattern JSON --event JSON [--transform JQ]",
		Short: "Say whether an event matches a rule, and why, and what a transform makes of it (offline)",
		Long: `Evaluates a rule against an event without a running bus, and with
--transform the route's jq program on the event when it matches.
Exit status: 0 the event matches, 1 it does not, 2 bad input, 3 the
transform failed on the event (the bus would dead-letter it).
Arguments may be given inline or as @file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rule router.Rule
			var err error
			if rule.Match, err = optionalArg(pattern); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--pattern: %w", err)}
			}
			if rule.Filters, err = optionalArg(filters); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--filters: %w", err)}
			}
			doc, err := readArg(eventDoc)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--event: %w", err)}
			}
			ex, err := router.TestPattern(rule, doc)
			if err != nil {
				return &exitError{code: 2, err: flagNamed(err)}
			}
			answer := struct {
				router.Explanation
				Transform *router.TransformResult `json:"transform,omitempty"`
			}{Explanation: ex}
			if program != "" {
				src, err := readArg(program)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--transform: %w", err)}
				}
				if answer.Transform, err = router.TryTransform(cmd.Context(), string(src), doc); err != nil {
					return &exitError{code: 2, err: flagNamed(err)}
				}
				if !ex.Matched {
					answer.Transform = nil // the route would not see the event
				}
			}
			if err := printJSON(cmd, answer); err != nil {
				return err
			}
			switch {
			case !ex.Matched:
				return &exitError{code: 1}
			case answer.Transform != nil && answer.Transform.Error != "":
				return &exitError{code: 3}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pattern, "pattern", "", "EventBridge-style pattern (the route's match), JSON or @file")
	cmd.Flags().StringVar(&filters, "filters", "", "CloudEvents filters (the route's filters), JSON or @file")
	cmd.Flags().StringVar(&program, "transform", "", "a route's transform, a jq program, or @file")
	cmd.Flags().StringVar(&eventDoc, "event", "", "the event as JSON (attributes at top level, payload under data), or @file")
	_ = cmd.MarkFlagRequired("event")
	return cmd
}

func optionalArg(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return readArg(s)
}

// flagNamed rewords a validation error in terms of the command's flags.
func flagNamed(err error) error {
	var fe *spec.FieldError
	if errors.As(err, &fe) && (fe.Path == "event" || fe.Path == "transform") {
		return fmt.Errorf("--%s: %s", fe.Path, fe.Message)
	}
	return err
}
