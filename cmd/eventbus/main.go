// Command eventbus runs an event bus and talks to one.
//
//	eventbus serve                      run the bus (in-memory, 127.0.0.1:8080)
//	eventbus emit --type T --source S   send an event
//	eventbus routes list|get|apply|delete
//	eventbus test-pattern --pattern P --event E
//	eventbus tail                       print the events a bus delivers
//	eventbus dlq list|redrive ROUTE      dead letters
//	eventbus replay start|status|list|cancel ROUTE   replays of a bus's archive
//	eventbus keys create|list|revoke     API keys
//	eventbus version
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/eventbus-go/eventbus/sdk"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// exitError ends the command with a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// run executes the command line and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "eventbus:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "eventbus:", err)
	return 1
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "eventbus",
		Short:         "A CloudEvents bus with pluggable backends",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCommand(),
		newEmitCommand(),
		newRoutesCommand(),
		newSchemasCommand(),
		newSchedulesCommand(),
		newTestPatternCommand(),
		newTailCommand(),
		newDLQCommand(),
		newReplayCommand(),
		newEventsCommand(),
		newKeysCommand(),
		newVersionCommand(),
		newDevCommand(),
	)
	return root
}

// busFlags are the flags of every command that talks to a bus.
type busFlags struct{ url, caFile, token string }

func (f *busFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "url", defaultBusURL(), "bus URL, http:// or https:// ($EVENTBUS_URL)")
	fs.StringVar(&f.caFile, "ca-file", os.Getenv("EVENTBUS_CA_FILE"), "PEM file of the CAs that sign an https:// bus's certificate; none means the system's ($EVENTBUS_CA_FILE)")
	tokenFlag(fs, &f.token)
}

// client returns a client for the bus the flags name, with their credential.
func (f *busFlags) client(opts sdk.Options) (*sdk.Client, error) {
	opts.CAFile = f.caFile
	opts.Token = bearer(f.token)
	return sdk.New(f.url, opts)
}

// defaultBusURL is where client commands find the bus unless --url says otherwise.
func defaultBusURL() string {
	if u := os.Getenv("EVENTBUS_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:8080"
}

// tokenFlag adds --token, the credential client commands send. Its default
// comes from $EVENTBUS_TOKEN through bearer, not the flag's default, so
// that --help never prints a key.
func tokenFlag(flags *pflag.FlagSet, token *string) {
	flags.StringVar(token, "token", "", "API key or OIDC token sent as Authorization: Bearer (default $EVENTBUS_TOKEN)")
}

// bearer is the credential to send: --token, else $EVENTBUS_TOKEN.
func bearer(flag string) string { return cmp.Or(flag, os.Getenv("EVENTBUS_TOKEN")) }

// readArg returns s, or the contents of the file s names when it starts with @.
func readArg(s string) ([]byte, error) {
	if len(s) > 0 && s[0] == '@' {
		return os.ReadFile(s[1:])
	}
	return []byte(s), nil
}
