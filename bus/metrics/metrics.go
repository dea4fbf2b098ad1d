package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/eventbus-go/eventbus/bus"
)

// DefaultScrapeTimeout bounds the backend calls (depths, pings) of one
// scrape when Options leave it zero.
const DefaultScrapeTimeout = 2 * time.Second

// Source is what the route and backend families read at scrape time;
// *bus.Bus is one.
type Source interface {
	Samples(ctx context.Context) []bus.RouteSample
	Pings(ctx context.Context) map[string]error
	SourceSamples() []bus.SourceSample
}

// Options tune a Registry; the zero value means the defaults.
type Options struct {
	// ScrapeTimeout bounds the backend calls of one scrape.
	ScrapeTimeout time.Duration
}

// Registry holds every family a bus serves: its own, and the Go runtime's
// and the process's.
type Registry struct {
	reg     *prometheus.Registry
	Ingress *Ingress
}

// New returns the registry of a bus whose routes and backends src reads.
func New(src Source, o Options) *Registry {
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = DefaultScrapeTimeout
	}
	reg := prometheus.NewRegistry()
	ingress := newIngress()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newRouteCollector(src, o.ScrapeTimeout),
		ingress.accepted, ingress.rejected, ingress.duration,
	)
	return &Registry{reg: reg, Ingress: ingress}
}

// Filter tells whether the caller of a scrape may see the series of a bus
// (by name); a nil Filter shows everything.
type Filter func(bus string) bool

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics, when asked). filter, called with each request, keeps only
// the series of buses that request's caller may see; busOfRoute names the
// bus of a route, for the route families.
func (r *Registry) Handler(filter func(*http.Request) Filter, busOfRoute func(route string) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		f := filter(req)
		g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			families, err := r.reg.Gather()
			if f == nil {
				return families, err
			}
			return keep(families, f, busOfRoute), err
		})
		promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, req)
	})
}

// keep removes from families the series whose bus (or route's bus) f
// refuses, and the families left with none.
func keep(families []*dto.MetricFamily, f Filter, busOfRoute func(string) string) []*dto.MetricFamily {
	allowed := map[string]bool{}
	may := func(bus string) bool {
		ok, seen := allowed[bus]
		if !seen {
			ok = f(bus)
			allowed[bus] = ok
		}
		return ok
	}
	shown := families[:0]
	for _, mf := range families {
		kept := mf.Metric[:0]
		for _, m := range mf.Metric {
			visible := true
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "bus":
					visible = may(l.GetValue())
				case "route":
					visible = may(busOfRoute(l.GetValue()))
				}
			}
			if visible {
				kept = append(kept, m)
			}
		}
		if len(kept) > 0 {
			mf.Metric = kept
			shown = append(shown, mf)
		}
	}
	return shown
}
