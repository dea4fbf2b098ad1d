package router

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/spec"
)

type filterCase struct {
	name    string
	filters string
	event   string
	want    bool
}

const order = `{"specversion": "1.0", "id": "7", "type": "order.created", "source": "web/shop",
	"subject": "orders/7", "priority": 3, "urgent": true, "data": {"total": 10}}`

var filterCases = []filterCase{
	{"exact selects an equal attribute", `[{"exact": {"type": "order.created"}}]`, order, true},
	{"exact is case-sensitive", `[{"exact": {"type": "Order.Created"}}]`, order, false},
	{"exact needs every listed attribute", `[{"exact": {"type": "order.created", "subject": "orders/8"}}]`, order, false},
	{"exact fails a missing attribute", `[{"exact": {"region": "eu"}}]`, order, false},
	{"exact compares an integer extension as its string", `[{"exact": {"priority": "3"}}]`, order, true},
	{"exact compares a boolean extension as its string", `[{"exact": {"urgent": "true"}}]`, order, true},
	{"prefix selects an attribute starting with it", `[{"prefix": {"source": "web/"}}]`, order, true},
	{"prefix fails another start", `[{"prefix": {"source": "api/"}}]`, order, false},
	{"suffix selects an attribute ending with it", `[{"suffix": {"type": ".created"}}]`, order, true},
	{"suffix fails another end", `[{"suffix": {"type": ".deleted"}}]`, order, false},
	{"all needs every filter", `[{"all": [{"exact": {"type": "order.created"}}, {"prefix": {"source": "api/"}}]}]`, order, false},
	{"all selects when every filter holds", `[{"all": [{"exact": {"type": "order.created"}}, {"prefix": {"source": "web/"}}]}]`, order, true},
	{"any needs one filter", `[{"any": [{"exact": {"type": "x"}}, {"prefix": {"source": "web/"}}]}]`, order, true},
	{"any fails when none holds", `[{"any": [{"exact": {"type": "x"}}, {"prefix": {"source": "api/"}}]}]`, order, false},
	{"not inverts", `[{"not": {"exact": {"type": "order.deleted"}}}]`, order, true},
	{"not fails what holds", `[{"not": {"exact": {"type": "order.created"}}}]`, order, false},
	{"filters in the list all apply", `[{"exact": {"type": "order.created"}}, {"exact": {"subject": "x"}}]`, order, false},
	{"sql selects a true expression", `[{"sql": "source LIKE 'web/%' AND priority > 2"}]`, order, true},
	{"sql fails a false expression", `[{"sql": "source LIKE 'api/%'"}]`, order, false},
	{"sql on a missing attribute fails", `[{"sql": "region = 'eu'"}]`, order, false},
	{"sql sees boolean extensions", `[{"sql": "urgent"}]`, order, true},
	{"sql EXISTS", `[{"sql": "EXISTS subject AND NOT EXISTS region"}]`, order, true},
	{"sql on an event without optional attributes", `[{"sql": "type = 'order.created'"}]`, `{"type": "order.created"}`, true},
}

func TestFilters(t *testing.T) {
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			checkRule(t, Rule{Filters: json.RawMessage(tc.filters)}, tc.event, tc.want)
		})
	}
}

func TestMatchAndFiltersBothApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule Rule
		want bool
	}{
		{"both hold", Rule{Match: json.RawMessage(`{"data": {"total": [10]}}`), Filters: json.RawMessage(`[{"sql": "type = 'order.created'"}]`)}, true},
		{"the pattern fails", Rule{Match: json.RawMessage(`{"data": {"total": [11]}}`), Filters: json.RawMessage(`[{"sql": "type = 'order.created'"}]`)}, false},
		{"the filter fails", Rule{Match: json.RawMessage(`{"data": {"total": [10]}}`), Filters: json.RawMessage(`[{"exact": {"type": "x"}}]`)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) { checkRule(t, tc.rule, order, tc.want) })
	}
}

// checkRule runs one rule through the compiled matcher and Explain.
func checkRule(t *testing.T, rule Rule, eventJSON string, want bool) {
	t.Helper()
	e, err := ParseEventJSON([]byte(eventJSON))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMatcher(map[string]Rule{"r": rule}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Equal(m.Match(e), []string{"r"}); got != want {
		t.Errorf("Match = %v, want %v", got, want)
	}
	ex, err := Explain(rule, e)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Matched != want {
		t.Errorf("Explain = %+v, want matched=%v: Explain and Match must agree", ex, want)
	}
}

func TestFiltersOnSDKEvents(t *testing.T) {
	ce := event.New()
	ce.SetID("1")
	ce.SetType("order.created")
	ce.SetSource("web/shop")
	ce.SetExtension("priority", 3)
	m, err := NewMatcher(map[string]Rule{
		"sql":   {Filters: json.RawMessage(`[{"sql": "priority = 3 AND source LIKE 'web/%'"}]`)},
		"exact": {Filters: json.RawMessage(`[{"exact": {"type": "order.created", "priority": "3"}}]`)},
		"no":    {Filters: json.RawMessage(`[{"prefix": {"type": "invoice."}}]`)},
	}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Match(NewEvent(&ce)), []string{"exact", "sql"}; !slices.Equal(got, want) {
		t.Errorf("Match = %v, want %v", got, want)
	}
}

func TestExplainNamesTheFailingFilter(t *testing.T) {
	e, _ := ParseEventJSON([]byte(order))
	for _, tc := range []struct{ filters, reason string }{
		{`[{"exact": {"type": "order.created"}}, {"prefix": {"source": "api/"}}]`, `filters[1].prefix.source: "web/shop" does not start with "api/"`},
		{`[{"all": [{"exact": {"region": "eu"}}]}]`, `filters[0].all[0].exact.region: the event has no attribute "region"`},
		{`[{"sql": "priority > 5"}]`, `filters[0].sql: priority > 5 is false`},
		{`[{"not": {"suffix": {"type": "created"}}}]`, `filters[0]: {"suffix":{"type":"created"}} holds, so not fails`},
	} {
		ex, err := Explain(Rule{Filters: json.RawMessage(tc.filters)}, e)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Matched || ex.Reason != tc.reason {
			t.Errorf("Explain(%s) = %+v, want reason %q", tc.filters, ex, tc.reason)
		}
	}
}

func TestValidateFilters(t *testing.T) {
	for _, tc := range []struct {
		name, filters, path, message string
	}{
		{"unknown dialect", `[{"regex": {"type": "x"}}]`, "filters[0].regex", "not a known filter dialect"},
		{"not an array", `{"exact": {"type": "x"}}`, "filters", "must be an array"},
		{"two dialects in one object", `[{"exact": {"type": "x"}, "prefix": {"type": "y"}}]`, "filters[0]", "exactly one dialect"},
		{"exact needs strings", `[{"exact": {"type": 1}}]`, "filters[0].exact.type", "non-empty string"},
		{"exact values may not be empty", `[{"exact": {"type": ""}}]`, "filters[0].exact.type", "non-empty string"},
		{"exact needs an attribute", `[{"exact": {}}]`, "filters[0].exact", "object of attribute names"},
		{"all needs filters", `[{"all": []}]`, "filters[0].all", "non-empty array"},
		{"nested problems have nested paths", `[{"any": [{"not": {"sql": "type ="}}]}]`, "filters[0].any[0].not.sql", "not a valid CloudEvents SQL expression"},
		{"bad sql", `[{"exact": {"type": "x"}}, {"sql": "source LIKE"}]`, "filters[1].sql", "not a valid CloudEvents SQL expression"},
		{"sql must be a string", `[{"sql": true}]`, "filters[0].sql", "must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Rule{Filters: json.RawMessage(tc.filters)}.Validate(Limits{})
			var fe *spec.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *spec.FieldError at %s", err, tc.path)
			}
			if fe.Path != tc.path || !strings.Contains(fe.Message, tc.message) {
				t.Errorf("Validate = %q at %q, want a message containing %q at %q", fe.Message, fe.Path, tc.message, tc.path)
			}
		})
	}
}

func TestValidateFiltersConcurrently(t *testing.T) {
	// Routes are saved from concurrent API requests; SQL parsing must not
	// race.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sql := []string{"type = 'a' AND source LIKE 'b%'", "priority > 3 OR EXISTS subject"}[i%2]
			if err := (Rule{Filters: json.RawMessage(`[{"sql": "` + sql + `"}]`)}).Validate(Limits{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}
