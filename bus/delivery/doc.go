// Package delivery takes a route's events from its channel to its target:
// the dispatcher, the targets (HTTP endpoints, handler plugins, topics on
// a backend), target credentials, webhook signing, retries with backoff,
// dead letters and their redrive. Package bus starts one dispatcher per
// route and owns the route's channels; this package only receives,
// delivers and settles. A route's policy applies to each event in order:
// transform, attempts (each after the route's rate, traced and recorded),
// retry, dead letters; a batch route makes the first attempt at many
// events in one request.
//
// # Contract
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
// Batches. With delivery.batch, an HTTP target gets the route's events
// several to a request, as a JSON array of structured events
// (application/cloudevents-batch+json): a batch takes up to max_events,
// waiting at most max_wait after its first (and taking only what the
// route's rate allows in that time), and goes as one request, or as
// several at once where one would pass max_bytes. The answer's status is
// the verdict on each event in it, unless its body is application/json
// with a "results" array (BatchResults) giving a status per event; an
// event the results leave out is retried. Each event is retried,
// dead-lettered, recorded and counted on its own; a retry held in place
// is sent as a batch of one.
//
// Ordering. Events with the same delivery.ordering_key are delivered one at
// a time, in the order they were accepted; a failing event holds only its
// own key.
package delivery
