// Package plugins is the bus's host for handler plugins: programs that
// handle a route's events, written with sdk/plugin and run with
// hashicorp/go-plugin over gRPC.
//
// NewHost starts every configured plugin (Config) as Config.Instances
// processes and completes go-plugin's handshake with each: magic cookie,
// protocol version (proto.ProtocolVersion; a mismatch fails with both
// versions named), gRPC only, AutoMTLS. Each process then has one
// bidirectional stream (proto.Handler.Deliver) on which many deliveries are
// in flight at once; the host spreads deliveries over the processes
// round-robin.
//
// The contract of Deliver:
//
//   - A nil error means the plugin answered: Result says what to do with
//     the event (ack, retry after, drop, dead-letter) and carries the
//     replies, whose causationid and correlationid the host has set.
//   - An error means the delivery did not complete and the event must be
//     delivered again: unknown plugin, no process ready within the timeout,
//     the process crashed, hung, or the host shut down, or ctx ended.
//     Nothing is ever acknowledged without a verdict from the plugin.
//   - A delivery without a verdict within Config.Timeout marks the process
//     hung. A hung or crashed process, or one failing its health check
//     (every 5 s), is killed; every delivery in flight to it returns an
//     error at once; a supervisor starts a new process after a backoff
//     (100 ms doubling to 30 s while failures repeat). Stats counts the
//     restarts.
//
// Shutdown stops every process (gracefully until its ctx ends, then by
// SIGKILL); it is idempotent and the bus calls it last. Plugin logs reach
// the host's slog.Logger with their level and attributes.
package plugins
