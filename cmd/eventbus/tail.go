package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/eventbus-go/eventbus/sdk"
)

func newTailCommand() *cobra.Command {
	var busURL, token, busName, pattern, listen string
	var addRoute bool
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the events a bus delivers to a local webhook",
		Long: `tail listens on a local address and prints every CloudEvent posted to it,
one JSON line each. By default it also adds a temporary route that sends the
bus's events (those matching --pattern, or all) to it, and deletes the route
when it stops. With --route=false it is only a webhook, for routes you create.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			hookURL := "http://" + ln.Addr().String() + "/"
			srv := &http.Server{Handler: printEvents(cmd.OutOrStdout()), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			fmt.Fprintln(cmd.ErrOrStderr(), "tail: webhook listening on", hookURL)

			if addRoute {
				c, err := sdk.New(busURL, sdk.Options{Token: bearer(token)})
				if err != nil {
					return err
				}
				r := sdk.Route{Name: "tail-" + uuid.NewString()[:8], Bus: busName, Target: sdk.Target{HTTP: &sdk.HTTPTarget{URL: hookURL}}}
				if pattern != "" {
					if r.Match, err = readArg(pattern); err != nil {
						return fmt.Errorf("--pattern: %w", err)
					}
				}
				if _, err := c.PutRoute(ctx, r); err != nil {
					return fmt.Errorf("adding the tail route: %w", err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "tail: route %s sends events to it; Ctrl-C removes the route\n", r.Name)
				defer func() {
					cleanup, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					if err := c.DeleteRoute(cleanup, r.Name); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "tail: removing route %s: %v\n", r.Name, err)
					}
				}()
			}
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&busURL, "url", defaultBusURL(), "bus URL ($EVENTBUS_URL)")
	tokenFlag(f, &token)
	f.StringVar(&busName, "bus", "", "bus to tail (default: default)")
	f.StringVar(&pattern, "pattern", "", "only events matching this pattern (JSON or @file)")
	f.StringVar(&listen, "listen", "127.0.0.1:0", "address of the local webhook")
	f.BoolVar(&addRoute, "route", true, "add a temporary route to the webhook")
	return cmd
}

// printEvents answers every binary-mode CloudEvent delivery with 200 and
// prints it as one JSON line: its attributes and its data.
func printEvents(out io.Writer) http.Handler {
	var mu sync.Mutex // one line at a time
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		line := map[string]any{}
		for k, v := range r.Header {
			if name, ok := strings.CutPrefix(strings.ToLower(k), "ce-"); ok {
				line[name] = v[0]
			}
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			line["datacontenttype"] = ct
		}
		if json.Valid(body) && len(body) > 0 {
			line["data"] = json.RawMessage(body)
		} else if len(body) > 0 {
			line["data"] = string(body)
		}
		b, _ := json.Marshal(line)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(out, string(b))
	})
}
