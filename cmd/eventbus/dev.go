package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
)

func newDevCommand() *cobra.Command {
	dev := &cobra.Command{
		Use:   "dev",
		Short: "Serve a development backend on this machine, for the quickstart and examples",
	}
	dev.AddCommand(newDevKafkaCommand())
	return dev
}

// newDevKafkaCommand serves kfake, an in-memory broker that speaks the
// Kafka protocol (topics, keys, headers, consumer groups, idempotent
// producers): enough for routes with backend kafka://ADDR and for Kafka
// tools such as kcat, without a Kafka installation.
func newDevKafkaCommand() *cobra.Command {
	var addr, dataDir string
	cmd := &cobra.Command{
		Use:   "kafka",
		Short: "Serve a single-broker Kafka-protocol server until interrupted (not for production)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr %s: %w", addr, err)
			}
			opts := []kfake.Opt{
				kfake.NumBrokers(1),
				// The broker advertises the address it listens on.
				kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
			}
			if dataDir != "" {
				opts = append(opts, kfake.DataDir(dataDir))
			}
			c, err := kfake.NewCluster(opts...)
			if err != nil {
				_ = ln.Close()
				return fmt.Errorf("starting the Kafka server: %w", err)
			}
			defer c.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "Kafka listening on %s: use backend kafka://%s (Ctrl-C stops it)\n", ln.Addr(), ln.Addr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9092", "address to listen on")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "keep topics and offsets in this directory across restarts (default: memory only)")
	return cmd
}
