// Package plugin is how to write an eventbus handler plugin: a program the
// bus starts and delivers a route's events to, over gRPC
// (hashicorp/go-plugin).
//
//	func main() {
//		plugin.Serve(plugin.HandlerFunc(func(ctx context.Context, e event.Event) (plugin.Result, error) {
//			// do the work; return an error to have the event retried
//			return plugin.Ack(), nil
//		}), plugin.Options{Name: "mailer", Version: "1.0.0"})
//	}
//
// A route names the plugin as its target ({"plugin": {"name": "mailer"}})
// and the bus config says how to run it (plugins: [{name, cmd, ...}]).
//
// The contract:
//
//   - Handle is called for many events at once, on up to
//     Options.MaxConcurrency goroutines: it must be safe for concurrent
//     use.
//   - Delivery is at least once: the same event may come again (after a
//     crash, a timeout, or a retry), so make the handler idempotent, keyed
//     by the event's source and id.
//   - The Result says what the bus does with the event: Ack (done, with
//     optional reply events the bus sends on to its routes), Retry (again
//     later, at least after RetryAfter), Drop (discard) or DeadLetter (to
//     the route's dead-letter channel now). Returning an error is Retry
//     with the error as the reason; a panic is caught and is Retry too.
//   - ctx carries the delivery's deadline (the plugin's timeout, a little
//     less). A handler still running at the deadline is answered Retry for
//     it; return promptly when ctx ends. A plugin process that answers
//     nothing by the timeout is taken as hung, killed and restarted.
//   - Log with Logger(): its lines reach the bus's log with their level and
//     attributes. Standard output is not forwarded.
//
// Test a handler in-process with package plugintest.
package plugin
