// Package metrics serves a bus's Prometheus metrics (GET /metrics).
//
// The contract:
//
//   - Route families (eventbus_route_events_total, eventbus_route_depth,
//     eventbus_route_dead_letters, eventbus_route_inflight,
//     eventbus_delivery_duration_seconds) are read at scrape time from the
//     counters the dispatchers already keep (bus.RouteSample): delivery does
//     no extra work for them. Depths are asked of the backends at scrape
//     time, within the scrape's bounded wait (Options.ScrapeTimeout); a
//     route whose backend does not answer in time has no depth sample in
//     that scrape, and eventbus_scrape_depth_errors counts it.
//   - eventbus_backend_up pings every backend in use at scrape time, within
//     the same bound: 1 answered, 0 did not. Backends are named by their URL
//     without password.
//   - Ingress families (eventbus_events_accepted_total,
//     eventbus_events_rejected_total, eventbus_ingress_duration_seconds) are
//     counted by the HTTP ingress as it answers, once per request: Ingress
//     is safe for concurrent use and takes no lock on the hot path beyond
//     the client library's label lookup.
//   - Counters count since the process started, per replica; they restart at
//     zero with the process, as Prometheus expects.
//   - Label values are bounded: bus and route are names that exist (an
//     event refused for a bus that does not exist is counted with bus=""),
//     code is one of the API's error codes.
//
// Filter decides what one caller sees: with authentication on, the series
// of buses it may not read are left out.
package metrics
