package metrics_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// scrape reads GET /metrics with Prometheus's own parser; key, when set,
// is sent as a bearer credential.
func scrape(t *testing.T, base, key string) (map[string]*dto.MetricFamily, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics is not in the Prometheus text format: %v", err)
	}
	return families, resp.StatusCode
}

// value returns the value of the series of family name with exactly the
// labels given (a histogram's sample count), and whether it is there.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := families[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := len(got) == len(labels)/2
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && got[labels[i]] == labels[i+1]
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func fastRetries(name, url, eventType string, attempts int) router.Route {
	return router.Route{
		Name:   name,
		Match:  json.RawMessage(`{"type":["` + eventType + `"]}`),
		Target: router.Target{HTTP: &router.HTTPTarget{URL: url}},
		Delivery: router.Delivery{
			MaxAttempts: attempts,
			Backoff:     router.Backoff{Initial: spec.Duration(5 * time.Millisecond), Max: spec.Duration(20 * time.Millisecond)},
		},
	}
}

// want is one series a scrape must show with a value.
type want struct {
	family string
	labels []string
	value  float64
}

func (w want) check(families map[string]*dto.MetricFamily) error {
	got, ok := value(families, w.family, w.labels...)
	switch {
	case !ok:
		return fmt.Errorf("%s%v is missing", w.family, w.labels)
	case got != w.value:
		return fmt.Errorf("%s%v = %v, want %v", w.family, w.labels, got, w.value)
	}
	return nil
}

// Each family moves as events are accepted, refused, retried, delivered
// and dead-lettered: what an operator alerts on must follow what happened.
func TestMetricsFollowWhatHappensToEvents(t *testing.T) {
	t.Parallel()
	flaky := bustest.NewWebhook(t, func(call int) int {
		if call == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	broken := bustest.NewWebhook(t, func(int) int { return http.StatusServiceUnavailable })
	b := bustest.Start(t, bus.Config{Routes: []router.Route{
		fastRetries("flaky", flaky.URL, "flaky", 5),
		fastRetries("broken", broken.URL, "broken", 2),
	}})

	before, status := scrape(t, b.URL, "")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics answered %d", status)
	}
	for _, w := range []want{
		{"eventbus_route_events_total", []string{"route", "flaky", "outcome", "delivered"}, 0},
		{"eventbus_route_depth", []string{"route", "flaky"}, 0},
		{"eventbus_route_inflight", []string{"route", "flaky"}, 0},
		{"eventbus_delivery_duration_seconds", []string{"route", "flaky"}, 0},
		{"eventbus_ingress_duration_seconds", nil, 0},
		{"eventbus_backend_up", []string{"backend", "mem://"}, 1},
	} {
		if err := w.check(before); err != nil {
			t.Errorf("before any event: %v", err)
		}
	}
	for _, family := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if before[family] == nil {
			t.Errorf("%s is missing: the Go and process collectors must be served too", family)
		}
	}

	bustest.Emit(t, b.URL, "1", map[string]string{"Ce-Type": "flaky"})
	bustest.Emit(t, b.URL, "2", map[string]string{"Ce-Type": "broken"})
	if status, body, err := bustest.PostEvent(b.URL, "3", map[string]string{"Ce-Type": ""}); err != nil || status != http.StatusBadRequest {
		t.Fatalf("an event without a type: %d %s %v; want 400", status, body, err)
	}
	flaky.WaitFor(t, 1)

	wants := []want{
		{"eventbus_events_accepted_total", []string{"bus", "default"}, 2},
		{"eventbus_events_rejected_total", []string{"bus", "default", "code", "invalid_argument"}, 1},
		{"eventbus_ingress_duration_seconds", nil, 3},
		{"eventbus_route_events_total", []string{"route", "flaky", "outcome", "retried"}, 1},
		{"eventbus_route_events_total", []string{"route", "flaky", "outcome", "delivered"}, 1},
		{"eventbus_delivery_duration_seconds", []string{"route", "flaky"}, 1},
		{"eventbus_route_events_total", []string{"route", "broken", "outcome", "retried"}, 1},
		{"eventbus_route_events_total", []string{"route", "broken", "outcome", "dead_lettered"}, 1},
		{"eventbus_route_events_total", []string{"route", "broken", "outcome", "delivered"}, 0},
		{"eventbus_route_dead_letters", []string{"route", "broken"}, 1},
		{"eventbus_route_depth", []string{"route", "broken"}, 0},
		{"eventbus_route_inflight", []string{"route", "broken"}, 0},
	}
	testkit.EventuallyNoError(t, bustest.DeliveryTimeout, func() error {
		after, _ := scrape(t, b.URL, "")
		var errs []string
		for _, w := range wants {
			if err := w.check(after); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("the metrics do not show what happened: %s", strings.Join(errs, "; "))
		}
		return nil
	})
}

// With authentication on, /metrics needs credentials, and a caller sees
// the series of the buses it may read, not of the others.
func TestMetricsShowACallerOnlyTheBusesItMayRead(t *testing.T) {
	keys := map[string]string{"ops": auth.GenerateKey(), "support": auth.GenerateKey()}
	t.Setenv("EVENTBUS_TEST_KEY_OPS", keys["ops"])
	t.Setenv("EVENTBUS_TEST_KEY_SUPPORT", keys["support"])
	paused := func(name, busName string) router.Route {
		return router.Route{Name: name, Bus: busName, Paused: true, Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/unused"}}}
	}
	b := bustest.Start(t, bus.Config{
		Auth: &auth.Config{Admins: []string{"admins"}, APIKeys: []auth.APIKeyConfig{
			{Name: "ops", KeyEnv: "EVENTBUS_TEST_KEY_OPS", Groups: []string{"admins"}},
			{Name: "support", KeyEnv: "EVENTBUS_TEST_KEY_SUPPORT", Groups: []string{"support"}},
		}},
		Buses: []router.Bus{
			{Name: "shop", ACL: &auth.ACL{Read: []string{"support"}}},
			{Name: "payroll", ACL: &auth.ACL{Read: []string{"admins"}}},
		},
		Routes: []router.Route{paused("orders", "shop"), paused("salaries", "payroll")},
	})
	if _, status := scrape(t, b.URL, ""); status != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without credentials answered %d; want 401", status)
	}
	support, _ := scrape(t, b.URL, keys["support"])
	if _, ok := value(support, "eventbus_route_depth", "route", "orders"); !ok {
		t.Error("a caller with read on shop does not see its route orders")
	}
	if _, ok := value(support, "eventbus_route_depth", "route", "salaries"); ok {
		t.Error("a caller without read on payroll sees its route salaries")
	}
	ops, _ := scrape(t, b.URL, keys["ops"])
	for _, r := range []string{"orders", "salaries"} {
		if _, ok := value(ops, "eventbus_route_depth", "route", r); !ok {
			t.Errorf("an admin does not see route %s", r)
		}
	}
}
