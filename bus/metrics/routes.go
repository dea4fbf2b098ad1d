package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Bounds of eventbus_delivery_duration_seconds, in powers of two
// microseconds: 2^10 µs (about 1 ms) to 2^32 µs (about 72 minutes).
const (
	durationMinExp = 10
	durationMaxExp = 32
)

var (
	descRouteEvents = prometheus.NewDesc("eventbus_route_events_total",
		"What became of a route's events: delivered, retried (an attempt failed and another is due), dead_lettered, dropped, diverted (sent to the overflow route).",
		[]string{"route", "outcome"}, nil)
	descDepth = prometheus.NewDesc("eventbus_route_depth",
		"Events waiting on the route's channel, as its backend counts them at scrape time.",
		[]string{"route"}, nil)
	descDeadLetters = prometheus.NewDesc("eventbus_route_dead_letters",
		"Events waiting on the route's dead-letter channel at scrape time.",
		[]string{"route"}, nil)
	descInflight = prometheus.NewDesc("eventbus_route_inflight",
		"Deliveries of the route in progress in this process.",
		[]string{"route"}, nil)
	descDelivery = prometheus.NewDesc("eventbus_delivery_duration_seconds",
		"Time from the ingress accepting an event to its target acknowledging it, retries included.",
		[]string{"route"}, nil)
	descBackendUp = prometheus.NewDesc("eventbus_backend_up",
		"1 when the backend answered a ping at scrape time, 0 when it did not.",
		[]string{"backend"}, nil)
	descSubscriberDrops = prometheus.NewDesc("eventbus_route_subscriber_drops_total",
		"Copies of events a ZeroMQ topic target did not send to a subscriber whose queue was full (when_full: drop); one event missed by two subscribers counts two.",
		[]string{"route"}, nil)
	descSourceMessages = prometheus.NewDesc("eventbus_source_messages_total",
		"What became of the messages a source read from its publishers: received, ingested (stored on its bus), malformed (not an event: dropped), lost (the bus could not take it within max_wait).",
		[]string{"source", "bus", "outcome"}, nil)
	descSourcePublishers = prometheus.NewDesc("eventbus_source_publishers",
		"Publishers a source is connected to now.",
		[]string{"source", "bus"}, nil)
	descScrapeErrors = prometheus.NewDesc("eventbus_scrape_depth_errors",
		"Routes whose depths this scrape could not read from their backend in time.",
		nil, nil)
)

// routeCollector reads the routes and backends at scrape time.
type routeCollector struct {
	src     Source
	timeout time.Duration
}

func newRouteCollector(src Source, timeout time.Duration) *routeCollector {
	return &routeCollector{src: src, timeout: timeout}
}

func (c *routeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRouteEvents, descDepth, descDeadLetters, descInflight, descDelivery, descSubscriberDrops,
		descSourceMessages, descSourcePublishers, descBackendUp, descScrapeErrors} {
		ch <- d
	}
}

func (c *routeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	failed := 0
	for _, s := range c.src.Samples(ctx) {
		n := s.Counters
		for outcome, v := range map[string]int64{
			"delivered":     n.Delivered.Load(),
			"retried":       n.Retried.Load(),
			"dead_lettered": n.DeadLettered.Load(),
			"dropped":       n.Dropped.Load(),
			"diverted":      n.Diverted.Load(),
		} {
			ch <- prometheus.MustNewConstMetric(descRouteEvents, prometheus.CounterValue, float64(v), s.Route, outcome)
		}
		ch <- prometheus.MustNewConstMetric(descInflight, prometheus.GaugeValue, float64(s.Inflight), s.Route)
		ch <- prometheus.MustNewConstMetric(descSubscriberDrops, prometheus.CounterValue, float64(n.SubscriberDrops.Load()), s.Route)
		if s.DepthErr != nil {
			failed++
		} else {
			ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(s.Depth), s.Route)
			ch <- prometheus.MustNewConstMetric(descDeadLetters, prometheus.GaugeValue, float64(s.DeadLetters), s.Route)
		}
		buckets, count, sum := n.Latency.Cumulative(durationMinExp, durationMaxExp)
		ch <- prometheus.MustNewConstHistogram(descDelivery, count, sum, buckets, s.Route)
	}
	ch <- prometheus.MustNewConstMetric(descScrapeErrors, prometheus.GaugeValue, float64(failed))
	for _, s := range c.src.SourceSamples() {
		for outcome, v := range map[string]int64{
			"received":  s.Stats.Received,
			"ingested":  s.Stats.Ingested,
			"malformed": s.Stats.Malformed,
			"lost":      s.Stats.Lost,
		} {
			ch <- prometheus.MustNewConstMetric(descSourceMessages, prometheus.CounterValue, float64(v), s.Name, s.Bus, outcome)
		}
		ch <- prometheus.MustNewConstMetric(descSourcePublishers, prometheus.GaugeValue, float64(s.Connected), s.Name, s.Bus)
	}
	for backend, err := range c.src.Pings(ctx) {
		up := 1.0
		if err != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(descBackendUp, prometheus.GaugeValue, up, backend)
	}
}
