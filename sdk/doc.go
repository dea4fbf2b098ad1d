// Package sdk is the Go client of an eventbus: emit CloudEvents and manage
// routes, their stats and their dead letters over the bus's HTTP API.
//
//	c, err := sdk.New("http://127.0.0.1:8080", sdk.Options{})
//	res, err := c.Emit(ctx, e) // e is a cloudevents event.Event
//
// The contract:
//
//   - Emit returns nil error only once the bus has stored the event on
//     every matching route (it answered 202): from then on the bus owns it.
//   - An event the bus refuses for now (429: a route is full; 503: a
//     backend is down) is sent again, after the bus's Retry-After, for up to
//     Options.RetryFor and within ctx. EmitBatch resends only the refused
//     events. Resending is safe: the bus drops a repeat of (source, id).
//   - Errors the bus reports are *Error, with the HTTP status, the bus's
//     error code and, for a bad request, the fields at fault. IsInvalid,
//     IsNotFound, IsConflict and IsRetryable classify them.
//   - A Client is safe for concurrent use.
//
// A receiver of the bus's HTTP deliveries checks that each came from the
// bus with VerifyWebhook (Standard Webhooks signatures).
//
// To write the handler that receives events, see package sdk/plugin.
//
// The package speaks HTTP only; it imports none of the bus's own packages.
package sdk
