package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Ingress counts what the HTTP ingress answers.
type Ingress struct {
	accepted *prometheus.CounterVec
	rejected *prometheus.CounterVec
	duration prometheus.Histogram
}

func newIngress() *Ingress {
	return &Ingress{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventbus_events_accepted_total",
			Help: "Events the ingress stored (answered as accepted), by bus.",
		}, []string{"bus"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventbus_events_rejected_total",
			Help: "Events (or whole requests, when refused before their events were read) the ingress refused, by bus and API error code.",
		}, []string{"bus", "code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "eventbus_ingress_duration_seconds",
			Help:    "Time the ingress took to answer one request, from its headers to its answer.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
}

// Accepted counts n events stored on bus.
func (i *Ingress) Accepted(bus string, n int) {
	if n > 0 {
		i.accepted.WithLabelValues(bus).Add(float64(n))
	}
}

// Rejected counts n events refused on bus with the API error code.
func (i *Ingress) Rejected(bus, code string, n int) {
	if n > 0 {
		i.rejected.WithLabelValues(bus, code).Add(float64(n))
	}
}

// Answered observes one request answered, started at start.
func (i *Ingress) Answered(start time.Time) {
	i.duration.Observe(time.Since(start).Seconds())
}
