// Package httpapi is the HTTP API of a bus: ingress (POST /events), the
// admin endpoints for buses, routes, keys, stats and dead letters, the
// event lookup and live tail, the web console's files, /healthz
// and /readyz, over TLS when the config says so and within the limits of
// its http section. It reads requests, asks package bus, and picks the
// status of every answer, mapping error codes to statuses in one table
// (errors.go). New starts a bus with its API; Run serves it.
//
// # Contract
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
// nothing. Package auth decides; packages bus and httpapi only ask.
//
// Serving. A plain-HTTP listener is read by fasthttp's server, which
// answers ingress itself and hands a connection to net/http's server, the
// request replayed, on its first request of any other kind (fastlane.go);
// a TLS listener is net/http's alone. Both apply the same limits and
// answer errors alike.
//
// Shutdown. Run stops ingress first, then shuts the bus down (package bus).
package httpapi
