package router

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/spec"
)

// matchCase is one pattern, one event, and whether the pattern must select
// the event. The same table drives Matcher and Explain, which must agree.
type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

// signup is the sample event most cases match against.
const signup = `{
	"specversion": "1.0", "id": "1", "type": "user.signed_up", "source": "web/signup",
	"count": 3, "beta": true,
	"data": {
		"plan": "pro-annual", "seats": 5, "trial": false, "coupon": null, "empty": "",
		"tags": ["a", "b"],
		"address": {"country": "NZ", "city": "Wellington"},
		"items": [{"sku": "x1", "qty": 2}, {"sku": "y2", "qty": 1}],
		"nested": [[{"k": "deep"}]],
		"none": [],
		"obj": {"inner": 1}
	}
}`

var exactCases = []matchCase{
	{"an exact string selects an equal attribute", `{"type": ["user.signed_up"]}`, signup, true},
	{"an exact string is case-sensitive", `{"type": ["User.Signed_Up"]}`, signup, false},
	{"values in one array are alternatives", `{"type": ["x", "user.signed_up"]}`, signup, true},
	{"fields are all required", `{"type": ["user.signed_up"], "source": ["other"]}`, signup, false},
	{"every field holding selects the event", `{"type": ["user.signed_up"], "source": ["web/signup"]}`, signup, true},
	{"a nested data field is matched by its path", `{"data": {"plan": ["pro-annual"]}}`, signup, true},
	{"deeply nested objects are followed", `{"data": {"address": {"country": ["NZ"]}}}`, signup, true},
	{"a missing field fails an exact value", `{"data": {"missing": ["x"]}}`, signup, false},
	{"an exact number selects an equal number", `{"data": {"seats": [5]}}`, signup, true},
	{"numbers compare as numbers, 5 equals 5.0", `{"data": {"seats": [5.0]}}`, signup, true},
	{"numbers compare as numbers, 5 equals 5e0", `{"data": {"seats": [5e0]}}`, signup, true},
	{"a string never equals a number", `{"data": {"seats": ["5"]}}`, signup, false},
	{"a number never equals a string", `{"source": [5]}`, `{"source": "5"}`, false},
	{"an integer extension is a number", `{"count": [3]}`, signup, true},
	{"a boolean extension is a boolean", `{"beta": [true]}`, signup, true},
	{"false matches false", `{"data": {"trial": [false]}}`, signup, true},
	{"a boolean never equals its string", `{"data": {"trial": ["false"]}}`, signup, false},
	{"null matches a null value", `{"data": {"coupon": [null]}}`, signup, true},
	{"null does not match a missing field", `{"data": {"missing": [null]}}`, signup, false},
	{"null does not match the empty string", `{"data": {"empty": [null]}}`, signup, false},
	{"the empty string matches the empty string", `{"data": {"empty": [""]}}`, signup, true},
	{"the empty string does not match null", `{"data": {"coupon": [""]}}`, signup, false},
	{"an event array matches if any element does", `{"data": {"tags": ["b"]}}`, signup, true},
	{"an event array fails if no element does", `{"data": {"tags": ["c"]}}`, signup, false},
	{"arrays of objects are flattened", `{"data": {"items": {"sku": ["y2"]}}}`, signup, true},
	{"arrays of arrays are flattened", `{"data": {"nested": {"k": ["deep"]}}}`, signup, true},
	{"an empty event array has no value", `{"data": {"none": [null]}}`, signup, false},
	{"an object is not a value", `{"data": {"obj": [1]}}`, signup, false},
	{"a pattern on an object's field does not match a scalar", `{"data": {"plan": {"x": ["y"]}}}`, signup, false},
	{"the empty pattern matches every event", `{}`, signup, true},
}

var prefixCases = []matchCase{
	{"prefix selects a string starting with it", `{"data": {"plan": [{"prefix": "pro"}]}}`, signup, true},
	{"prefix is case-sensitive", `{"data": {"plan": [{"prefix": "PRO"}]}}`, signup, false},
	{"prefix fails a string not starting with it", `{"data": {"plan": [{"prefix": "free"}]}}`, signup, false},
	{"the whole value is its own prefix", `{"type": [{"prefix": "user.signed_up"}]}`, signup, true},
	{"a prefix longer than the value fails", `{"type": [{"prefix": "user.signed_up.twice"}]}`, signup, false},
	{"the empty prefix matches every string", `{"type": [{"prefix": ""}]}`, signup, true},
	{"prefix never matches a number", `{"data": {"seats": [{"prefix": "5"}]}}`, signup, false},
	{"prefix and exact values are alternatives", `{"type": ["x", {"prefix": "user."}]}`, signup, true},
	{"prefix applies to array elements", `{"data": {"tags": [{"prefix": "b"}]}}`, signup, true},
}

var existsCases = []matchCase{
	{"exists true selects a present field", `{"data": {"plan": [{"exists": true}]}}`, signup, true},
	{"exists true fails a missing field", `{"data": {"missing": [{"exists": true}]}}`, signup, false},
	{"exists true holds for null", `{"data": {"coupon": [{"exists": true}]}}`, signup, true},
	{"exists true holds for the empty string", `{"data": {"empty": [{"exists": true}]}}`, signup, true},
	{"exists false selects a missing field", `{"data": {"missing": [{"exists": false}]}}`, signup, true},
	{"exists false fails a present field", `{"data": {"plan": [{"exists": false}]}}`, signup, false},
	{"exists false fails a null field", `{"data": {"coupon": [{"exists": false}]}}`, signup, false},
	{"exists applies to leaves: an object counts as missing", `{"data": {"obj": [{"exists": false}]}}`, signup, true},
	{"exists applies to leaves: an object does not exist", `{"data": {"obj": [{"exists": true}]}}`, signup, false},
	{"an empty event array counts as missing", `{"data": {"none": [{"exists": false}]}}`, signup, true},
	{"exists false with a value: either holds", `{"data": {"plan": [{"exists": false}, "pro-annual"]}}`, signup, true},
	{"exists false with a value: neither holds", `{"data": {"plan": [{"exists": false}, "free"]}}`, signup, false},
	{"exists false selects an event without data", `{"data": {"plan": [{"exists": false}]}}`, `{"type": "t"}`, true},
	{"non-JSON data exists", `{"data": [{"exists": true}]}`, `{"type": "t", "data_base64": "AAEC"}`, true},
	{"non-JSON data matches nothing but exists", `{"data": {"plan": [{"exists": true}]}}`, `{"type": "t", "data_base64": "AAEC"}`, false},
	{"text data is not JSON", `{"data": ["hello"]}`, `{"datacontenttype": "text/plain", "data": "hello"}`, false},
	{"a JSON string payload is a value", `{"data": ["hello"]}`, `{"datacontenttype": "application/json", "data": "hello"}`, true},
	{"a +json content type is JSON", `{"data": {"a": [1]}}`, `{"datacontenttype": "application/vnd.x+json", "data": {"a": 1}}`, true},
}

func TestMatchOperators(t *testing.T) {
	for _, group := range []struct {
		name  string
		cases []matchCase
	}{
		{"exact", exactCases},
		{"prefix", prefixCases},
		{"exists", existsCases},
	} {
		t.Run(group.name, func(t *testing.T) {
			for _, tc := range group.cases {
				t.Run(tc.name, func(t *testing.T) { checkMatch(t, tc) })
			}
		})
	}
}

// checkMatch runs one case through the compiled matcher and through Explain.
func checkMatch(t *testing.T, tc matchCase) {
	t.Helper()
	rule := Rule{Match: json.RawMessage(tc.pattern)}
	if err := rule.Validate(Limits{}); err != nil {
		t.Fatalf("pattern %s is invalid: %v", tc.pattern, err)
	}
	e, err := ParseEventJSON([]byte(tc.event))
	if err != nil {
		t.Fatalf("event: %v", err)
	}
	m, err := NewMatcher(map[string]Rule{"r": rule}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := m.Match(e)
	if matched := slices.Equal(got, []string{"r"}); matched != tc.want {
		t.Errorf("Match(%s) = %v, want matched=%v", tc.pattern, got, tc.want)
	}
	ex, err := Explain(rule, e)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Matched != tc.want {
		t.Errorf("Explain(%s) = %+v, want matched=%v: Explain and Match must agree", tc.pattern, ex, tc.want)
	}
	if ex.Reason == "" {
		t.Errorf("Explain(%s) gave no reason", tc.pattern)
	}
}

func TestMatchReturnsSortedNamesOrNil(t *testing.T) {
	m, err := NewMatcher(map[string]Rule{
		"zeta":  {Match: json.RawMessage(`{"type": ["a"]}`)},
		"alpha": {Match: json.RawMessage(`{"type": [{"prefix": "a"}]}`)},
		"mid":   {},
		"other": {Match: json.RawMessage(`{"type": ["b"]}`)},
	}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := ParseEventJSON([]byte(`{"type": "a"}`))
	if got, want := m.Match(e), []string{"alpha", "mid", "zeta"}; !slices.Equal(got, want) {
		t.Errorf("Match = %v, want %v (sorted, empty rule matches all)", got, want)
	}
	empty, err := NewMatcher(nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := empty.Match(e); got != nil {
		t.Errorf("Match on no routes = %#v, want nil", got)
	}
}

// Events that match one route share one slice of its name, and
// whoever appends to what Match returned gets a copy: the matcher's names
// and the next event's answer stay as they were.
func TestMatchOfOneRouteIsSharedButSafe(t *testing.T) {
	m, err := NewMatcher(map[string]Rule{
		"alpha": {Match: json.RawMessage(`{"type": ["a"]}`)},
		"beta":  {Match: json.RawMessage(`{"type": ["b"]}`)},
	}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ParseEventJSON([]byte(`{"type": "a"}`))
	if unsafe.SliceData(m.Match(a)) != unsafe.SliceData(m.Match(a)) {
		t.Error("two events matching one route got two slices of its name: one per event")
	}
	got := append(m.Match(a), "extra")
	got[0] = "changed"
	if again := m.Match(a); !slices.Equal(again, []string{"alpha"}) {
		t.Errorf("after a caller's append, Match = %v, want [alpha]", again)
	}
	b, _ := ParseEventJSON([]byte(`{"type": "b"}`))
	if got := m.Match(b); !slices.Equal(got, []string{"beta"}) {
		t.Errorf("Match = %v, want [beta]", got)
	}
}

func TestIdenticalFieldsOfSeveralRoutesAreIndependent(t *testing.T) {
	// Routes sharing one field test must still each require their own
	// other fields.
	m, err := NewMatcher(map[string]Rule{
		"a": {Match: json.RawMessage(`{"type": ["t"], "source": ["s1"]}`)},
		"b": {Match: json.RawMessage(`{"type": ["t"], "source": ["s2"]}`)},
		"c": {Match: json.RawMessage(`{"type": ["t"]}`)},
	}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := ParseEventJSON([]byte(`{"type": "t", "source": "s2"}`))
	if got, want := m.Match(e), []string{"b", "c"}; !slices.Equal(got, want) {
		t.Errorf("Match = %v, want %v", got, want)
	}
}

func TestNewEventExposesAttributesInJSONForm(t *testing.T) {
	ce := event.New()
	ce.SetID("1")
	ce.SetType("order.created")
	ce.SetSource("shop/eu")
	ce.SetSubject("order-7")
	ce.SetExtension("priority", 7)
	ce.SetExtension("urgent", true)
	if err := ce.SetData(event.ApplicationJSON, map[string]any{"total": 12.5, "lines": []any{map[string]any{"sku": "k"}}}); err != nil {
		t.Fatal(err)
	}
	e := NewEvent(&ce)
	for _, tc := range []struct{ pattern string }{
		{`{"type": ["order.created"], "source": ["shop/eu"], "subject": ["order-7"]}`},
		{`{"specversion": ["1.0"], "id": ["1"]}`},
		{`{"priority": [7], "urgent": [true]}`},
		{`{"data": {"total": [12.5], "lines": {"sku": ["k"]}}}`},
		{`{"datacontenttype": ["application/json"]}`},
	} {
		ex, err := Explain(Rule{Match: json.RawMessage(tc.pattern)}, e)
		if err != nil {
			t.Fatal(err)
		}
		if !ex.Matched {
			t.Errorf("%s did not match the SDK event: %s", tc.pattern, ex.Reason)
		}
	}
	bin := event.New()
	bin.SetType("blob")
	bin.SetData("application/octet-stream", []byte{0, 1, 2})
	ex, _ := Explain(Rule{Match: json.RawMessage(`{"data": [{"exists": true}]}`)}, NewEvent(&bin))
	if !ex.Matched {
		t.Errorf("binary data must exist: %s", ex.Reason)
	}
}

func TestValidateNamesTheOffendingPart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rule    Rule
		lim     Limits
		path    string
		message string
	}{
		{"unknown operator", Rule{Match: json.RawMessage(`{"data": {"plan": [{"prefx": "pro"}]}}`)}, Limits{}, "match.data.plan[0].prefx", "not a known operator"},
		{"prefix needs a string", Rule{Match: json.RawMessage(`{"data": {"plan": [{"prefix": 1}]}}`)}, Limits{}, "match.data.plan[0].prefix", "must be a string"},
		{"exists needs a boolean", Rule{Match: json.RawMessage(`{"type": [{"exists": "yes"}]}`)}, Limits{}, "match.type[0].exists", "true or false"},
		{"a field value must be an array", Rule{Match: json.RawMessage(`{"type": "a"}`)}, Limits{}, "match.type", "must be an array"},
		{"the pattern must be an object", Rule{Match: json.RawMessage(`["a"]`)}, Limits{}, "match", "JSON object"},
		{"the pattern must be JSON", Rule{Match: json.RawMessage(`{"type": [}`)}, Limits{}, "match", "not valid JSON"},
		{"an empty array matches nothing", Rule{Match: json.RawMessage(`{"type": []}`)}, Limits{}, "match.type", "empty array"},
		{"duplicate keys are refused", Rule{Match: json.RawMessage(`{"type": ["a"], "type": ["b"]}`)}, Limits{}, "match", "duplicate key"},
		{"two operators in one object", Rule{Match: json.RawMessage(`{"type": [{"prefix": "a", "exists": true}]}`)}, Limits{}, "match.type[0]", "exactly one operator"},
		{"odd keys are quoted in paths", Rule{Match: json.RawMessage(`{"data": {"a b": [{"x": 1}]}}`)}, Limits{}, `match.data["a b"][0].x`, "not a known operator"},
		{"too deep", Rule{Match: json.RawMessage(`{"a": {"b": {"c": ["d"]}}}`)}, Limits{MaxDepth: 2}, "match.a.b", "deeper than 2"},
		{"too many values", Rule{Match: json.RawMessage(`{"type": ["a", "b", "c"]}`)}, Limits{MaxValues: 2}, "match", "3 values"},
		{"too large", Rule{Match: json.RawMessage(`{"type": ["a"]}`)}, Limits{MaxRuleBytes: 4}, "match", "bytes"},
		{"operand too long", Rule{Match: json.RawMessage(`{"type": ["abcdef"]}`)}, Limits{MaxOperandBytes: 3}, "match.type[0]", "6 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rule.Validate(tc.lim)
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

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Rule{Match: json.RawMessage(`{"a": [{"bad": 1}], "b": "x"}`)}.Validate(Limits{})
	var paths []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *spec.FieldError
		if errors.As(e, &fe) {
			paths = append(paths, fe.Path)
		}
	}
	if want := []string{"match.a[0].bad", "match.b"}; !slices.Equal(paths, want) {
		t.Errorf("paths = %v, want %v", paths, want)
	}
}

func TestNewMatcherNamesTheBadRoute(t *testing.T) {
	_, err := NewMatcher(map[string]Rule{"good": {}, "broken": {Match: json.RawMessage(`{"type": "x"}`)}}, Limits{})
	if err == nil || !strings.Contains(err.Error(), `route "broken"`) {
		t.Errorf("NewMatcher = %v, want an error naming route broken", err)
	}
}

func TestExplainNamesTheFirstFailure(t *testing.T) {
	e, _ := ParseEventJSON([]byte(`{"type": "user.signed_up", "data": {"plan": "free"}}`))
	for _, tc := range []struct {
		pattern string
		reason  string
	}{
		{`{"type": ["user.signed_up"], "data": {"plan": [{"prefix": "pro"}]}}`, `data.plan: "free" does not match {"prefix":"pro"}`},
		{`{"data": {"seats": [1]}, "type": ["x"]}`, `data.seats: the field is missing, so it does not match 1`},
		{`{"type": ["a", "b"]}`, `type: "user.signed_up" does not match ["a","b"]`},
	} {
		ex, err := Explain(Rule{Match: json.RawMessage(tc.pattern)}, e)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Matched || ex.Reason != tc.reason {
			t.Errorf("Explain(%s) = %+v, want reason %q", tc.pattern, ex, tc.reason)
		}
	}
	ex, _ := Explain(Rule{Match: json.RawMessage(`{"type": ["user.signed_up"], "data": {"plan": [{"prefix": "fr"}]}}`)}, e)
	want := []string{`type: "user.signed_up" matches "user.signed_up"`, `data.plan: "free" matches {"prefix":"fr"}`}
	if !ex.Matched || !slices.Equal(ex.Held, want) {
		t.Errorf("Explain = %+v, want held %q", ex, want)
	}
}
