package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/eventbus-go/eventbus/adapters/nats"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/httpapi"
	"github.com/eventbus-go/eventbus/bus/tracing"
)

func newServeCommand() *cobra.Command {
	var configPath, addr, logLevel, logFormat, dataDir, storeURL, backend, otlpEndpoint string
	var insecureNoAuth bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the bus (events kept in an embedded NATS store under --data-dir, on 127.0.0.1:8080, unless a config says otherwise)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg bus.Config
			if configPath != "" {
				var err error
				if cfg, err = bus.LoadConfig(configPath); err != nil {
					return err
				}
			}
			if addr != "" {
				cfg.Addr = addr
			}
			if cmd.Flags().Changed("data-dir") || cfg.DataDir == "" {
				cfg.DataDir = dataDir
			}
			if storeURL != "" {
				cfg.Store = storeURL
			}
			switch {
			case backend != "":
				cfg.DefaultBackend = backend
			case cfg.DefaultBackend == "":
				cfg.DefaultBackend = embeddedBackend(cfg.DataDir)
			}
			if otlpEndpoint != "" {
				cfg.Tracing.OTLPEndpoint = otlpEndpoint
			}
			cfg = cfg.WithDefaults()
			if cfg.Auth == nil && !onLoopback(cfg.Addr) && !insecureNoAuth {
				return fmt.Errorf("refusing to serve on %s without authentication: anyone who reaches it could emit events, route them to their own URL and read dead letters. "+
					"Add an auth: section to the config (see docs/security.md), listen on a loopback address such as 127.0.0.1:8080, "+
					"or pass --insecure-no-auth to run open anyway", cfg.Addr)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)
			}
			log, err := newLogger(cmd.ErrOrStderr(), logFormat, level)
			if err != nil {
				return err
			}

			if cfg.Auth == nil && !onLoopback(cfg.Addr) {
				log.Warn("serving without authentication on a non-loopback address (--insecure-no-auth): anyone who reaches it may do anything", "addr", cfg.Addr)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			b, err := httpapi.New(ctx, cfg, log)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", cfg.Addr)
			if err != nil {
				_ = b.Shutdown(context.Background())
				return fmt.Errorf("listen on %s: %w (is another bus running? choose another with --addr)", cfg.Addr, err)
			}
			url := "http://" + ln.Addr().String()
			if cfg.TLS.Enabled() {
				url = "https://" + ln.Addr().String()
			}
			fmt.Fprintf(cmd.OutOrStdout(), "eventbus listening on %s (default backend %s, %d routes)\n", url, cfg.DefaultBackend, len(b.Routes()))
			fmt.Fprintf(cmd.OutOrStdout(), "emit a first event:\n  curl -i %s/events -H 'ce-specversion: 1.0' -H 'ce-id: 1' -H 'ce-source: demo' -H 'ce-type: hello' -H 'Content-Type: application/json' -d '{\"hi\":1}'\n", url)
			return b.Run(ctx, ln)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML config file (routes, backends); none means no routes, on the default backend")
	cmd.Flags().StringVar(&backend, "backend", "", "backend URL of routes that name none, such as mem:// (default: the config's default_backend, else an embedded NATS JetStream store under --data-dir)")
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (default "+bus.DefaultAddr+", or the config's addr)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "text (key=value) or json (one object a line); lines written within a traced delivery carry trace_id and span_id")
	cmd.Flags().StringVar(&otlpEndpoint, "otlp-endpoint", "", "export OpenTelemetry spans to this OTLP/HTTP collector, such as http://127.0.0.1:4318 (default: the config's tracing.otlp_endpoint, else OTEL_EXPORTER_OTLP_ENDPOINT; none turns tracing off)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "eventbus-data", "directory keeping the buses and routes made through the API, and the events of the embedded default backend")
	cmd.Flags().BoolVar(&insecureNoAuth, "insecure-no-auth", false, "serve without an auth: section on a non-loopback address (anyone who reaches the bus may do anything)")
	cmd.Flags().StringVar(&storeURL, "store", "", "a PostgreSQL URL (postgres://…) to share buses and routes between replicas, instead of --data-dir")
	return cmd
}

// newLogger writes log lines to w in format (text or json) from level
// up, with the trace ids of the span a line is written within.
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("--log-format %q: use text or json", format)
	}
	return slog.New(tracing.LogHandler(h)), nil
}

// embeddedBackend is the default backend of serve: a NATS server with
// JetStream in the process, storing events under dataDir, so an event
// answered 202 survives a crash of the process with no broker to run.
func embeddedBackend(dataDir string) string {
	dir := strings.ReplaceAll(url.QueryEscape(filepath.Join(dataDir, "nats")), "%2F", "/")
	return nats.SchemeEmbedded + "://?dir=" + dir
}

// onLoopback reports whether addr listens only on the loopback interface,
// where a bus may run without authentication.
func onLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
