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
	var busName, pattern, listen string
	var conn busFlags
	var addRoute, stream bool
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the events a bus delivers to a local webhook, or (--stream) the events it stores",
		Long: `tail listens on a local address and prints every CloudEvent posted to it,
one JSON line each. By default it also adds a temporary route that sends the
bus's events (those matching --pattern, or all) to it, and deletes the route
when it stops. With --route=false it is only a webhook, for routes you create.

With --stream it listens on nothing and adds no route: it follows the bus's
live tail (GET /v1/buses/{bus}/tail) and prints each event the bus stores, as
it stores it, with the routes that stored it. That takes only read on the bus,
and works where the bus cannot reach this machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if stream {
				return streamTail(ctx, cmd, conn, busName)
			}
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
				c, err := conn.client(sdk.Options{})
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
	conn.register(f)
	f.StringVar(&busName, "bus", "", "bus to tail (default: default)")
	f.StringVar(&pattern, "pattern", "", "only events matching this pattern (JSON or @file)")
	f.StringVar(&listen, "listen", "127.0.0.1:0", "address of the local webhook")
	f.BoolVar(&addRoute, "route", true, "add a temporary route to the webhook")
	f.BoolVar(&stream, "stream", false, "print the events the bus stores, from its live tail, instead of running a webhook")
	return cmd
}

// streamTail prints the events of the bus's live tail, one JSON line each:
// the event's attributes, its data and "routes"; drops are reported on
// stderr.
func streamTail(ctx context.Context, cmd *cobra.Command, conn busFlags, busName string) error {
	c, err := conn.client(sdk.Options{})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	return c.Tail(ctx, busName, func(m sdk.TailMessage) error {
		if m.Event == nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "tail: %d events dropped so far: this terminal reads too slowly\n", m.Dropped)
			return nil
		}
		raw, err := json.Marshal(m.Event.Event)
		if err != nil {
			return err
		}
		line := map[string]any{}
		if err := json.Unmarshal(raw, &line); err != nil {
			return err
		}
		// As the webhook mode prints it: JSON data as JSON, other data as text.
		delete(line, "data_base64")
		if data := m.Event.Event.Data(); json.Valid(data) && len(data) > 0 {
			line["data"] = json.RawMessage(data)
		} else if len(data) > 0 {
			line["data"] = string(data)
		}
		line["routes"] = m.Event.Routes
		b, err := json.Marshal(line)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	})
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
