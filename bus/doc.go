// Package bus is the core of an event bus: its buses and routes and their
// lifecycle (routes.go, buses.go), kept in a store and shared by replicas
// (persist.go), and the ingest pipeline (ingress.go): Ingest validates,
// deduplicates, admits and publishes events, returning a typed Result per
// event. It speaks no HTTP: package httpapi serves it, mapping results and
// error codes to statuses, and package delivery takes each route's events
// to its target. Dependencies point one way: httpapi → bus → delivery.
//
// # Contract
//
// Ingest stores an event on every route it matches, or reports why not in
// its Result: it returns only once every event without an error is stored
// on all of its routes' channels (the backend confirmed the write).
//
// Dedup. A repeat of (bus, source, id) within dedup.window of its storing is
// answered as the first and not stored again, also within one batch.
//
// Admission. delivery.max_depth caps the events a route has stored and not
// finished; past it, delivery.overflow rejects (ResourceExhausted), blocks up to
// block_timeout, drops the oldest waiting event, or diverts the event to
// another route; the event's result says which. delivery.rate paces
// deliveries; delivery.delay and the deliverafter extension hold events back.
//
// Replicas. Bus processes sharing a store that counts them
// (store.Replicas) share each route's rate: each delivers at rate divided
// by the replicas whose heartbeat is fresh. While several run, each sets a
// capped route's count to its channel's depth every heartbeat, as the
// backend counts it (cluster.go says how close the cap then holds).
//
// Paused routes match and store events but deliver none until resumed.
//
// History. Every stored event is recorded in the bus's history (package
// bus/history, bounded by history.max_events and history.max_age, per
// process) with the routes that stored it; dispatchers record each attempt
// and where the event ended, redrive marks it pending again. Event looks it
// up. Tail streams the events stored on a bus to at most MaxTails readers,
// each buffered to TailBuffer events: a reader that falls behind loses
// events (counted), ingress never waits for it.
//
// Shutdown. On SIGINT or SIGTERM (httpapi Run's context ending) /readyz
// answers 503 while ingress still accepts for shutdown_delay, then ingress
// stops accepting, dispatchers finish the attempts in progress, then channels and
// backends close. A durable backend keeps undelivered events for the next
// start; an in-memory channel is drained to its target first, within the
// shutdown timeout, since its events do not outlive the process.
package bus
