// Package history remembers what became of recent events, so that "did my
// event arrive?" has an answer: when the bus accepted an event, which
// routes it matched, and per route its state and every attempt at the
// target.
//
// # Contract
//
// An event is known by (bus, source, id), the key dedup uses. Ingress
// records it once, when its channels confirmed the write, with the time
// it took the event in (Accepted); each
// route's dispatcher records every attempt (Attempted) and where the event
// ended (Settled); a redrive marks it again (Redriven), and takes the mark
// back if it could not send the event. A retry that went back to the
// channel and came back to any dispatcher of this process joins the same
// event, since the key travels with the event.
//
// # Bounds
//
// The history holds at most MaxEvents events, for at most MaxAge after
// they were accepted; past either the oldest are forgotten first. Each
// route keeps its last MaxAttempts attempts (the total is still counted).
// Recording is O(1): one index lookup under one lock, no goroutine, no
// timer; aged events are forgotten as new ones arrive and hidden from
// Lookup at once. Ingress tells the history of a batch's events before
// recording them (Prefetch), so that their lookups' cache misses overlap
// rather than come one after another. On a full history, about one event
// in ten million finds its bucket of the index full and is forgotten
// early (see package ringindex). The index takes 32 to 64 bytes for each
// of MaxEvents from the start. The history is per process: a replica
// knows only the events it accepted or delivered, and nothing survives a
// restart.
package history
