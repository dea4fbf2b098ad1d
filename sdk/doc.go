// Package sdk is the Go client of an eventbus: emit CloudEvents and manage
// routes over the bus's HTTP API.
//
//	c, err := sdk.New("http://127.0.0.1:8080", sdk.Options{})
//	res, err := c.Emit(ctx, e) // e is a cloudevents event.Event
//
// Emit returns once the bus has stored the event on every matching route
// (the bus answered 202): from then on the bus owns it. Errors the bus
// reports are *sdk.Error, with the HTTP status and the bus's error code.
//
// The package speaks HTTP only; it imports none of the bus's own packages.
package sdk
