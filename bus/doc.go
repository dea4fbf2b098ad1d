// Package bus wires an event bus together: configuration, the HTTP ingress
// and admin API, one channel and one dispatcher per route, and an orderly
// shutdown.
//
// # Delivery contract
//
// Ingress. POST /events (bus "default") and POST /buses/{bus}/events take
// CloudEvents 1.0 in binary, structured or batch mode. Each event is
// validated, matched against the bus's routes, and published to the channel
// of every route it matches. The answer is 202 only once every event it
// lists as accepted is stored on all of its routes' channels (the backend
// confirmed the write); an event that could not be stored gets an error of
// its own in the results, never a silent drop. When no event of a request
// was stored the status is that of the first error: 400 bad event, 413 body
// over max_body_bytes, 415 unknown content type, 429 a channel is full, 503
// a backend is unavailable (429 and 503 carry Retry-After). An event that
// matches no route is accepted and stored nowhere; its result lists no
// routes.
//
// Access. With an auth section in the config, every request but /healthz
// and /readyz must carry an API key or an OIDC token (401 with
// WWW-Authenticate otherwise), and the caller's groups must hold the
// action's right on the bus (403 naming the caller, the action and the bus
// otherwise). Ingress checks every event of a request against the caller's
// emit grants before it stores any: a request with one refused event stores
// nothing. Package auth decides; this package only asks.
//
// Delivery. Each route's dispatcher receives from its channel and delivers
// to the route's target, at most delivery.max_inflight events at once. An
// HTTP target gets the event in CloudEvents binary mode; a 2xx answer acks
// it. Any other answer, a timeout or a refused connection fails the attempt,
// and the event is retried after an exponential backoff with jitter between
// delivery.backoff.initial and delivery.backoff.max. After
// delivery.max_attempts failed attempts the event is stored on the route's
// dead-letter channel ("<route>.dlq") with the extensions deadletterreason,
// deadletterroute, deliveryattempts, firstattempttime and lastattempttime,
// and acked. Delivery is at-least-once: a target may see an event more than
// once, for example when the bus stops between a delivery and its ack.
//
// Verdicts. An HTTP target's 2xx acks; 429 and 503 retry no sooner than
// their Retry-After; other 4xx dead-letter at once unless the route says
// client_errors: retry; 5xx, timeouts and refused connections retry. The
// header Eventbus-Verdict (ack, retry, drop, dead-letter) overrides the
// status. Retries stop at delivery.max_attempts or delivery.max_age.
//
// Retries on a backend that can delay go back to the route's channel with a
// due time, the attempt count and the first attempt's time, freeing their
// delivery slot; on an ordered route, or a backend that cannot delay, the
// dispatcher holds the event while it waits.
//
// Dedup. A repeat of (bus, source, id) within dedup.window of its storing is
// answered as the first and not stored again, also within one batch.
//
// Ordering. Events with the same delivery.ordering_key are delivered one at
// a time, in the order they were accepted; a failing event holds only its
// own key.
//
// Admission. delivery.max_depth caps the events a route has stored and not
// finished; past it, delivery.overflow rejects (429), blocks up to
// block_timeout, drops the oldest waiting event, or diverts the event to
// another route; the event's result says which. delivery.rate paces
// deliveries; delivery.delay and the deliverafter extension hold events back.
//
// Paused routes match and store events but deliver none until resumed.
//
// Shutdown. On SIGINT or SIGTERM (Run's context ending) ingress stops
// accepting, dispatchers finish the attempts in progress, then channels and
// backends close. A durable backend keeps undelivered events for the next
// start; an in-memory channel is drained to its target first, within the
// shutdown timeout, since its events do not outlive the process.
package bus
