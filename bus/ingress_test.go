package bus_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/router"
)

func binaryHeaders(overrides map[string]string) map[string]string {
	h := map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/src", "ce-type": "t"}
	for k, v := range overrides {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

// Every class of bad input gets its own status and a message that names the
// field at fault, so a producer can fix it without reading our code.
func TestBadInputIsRefusedNamingTheField(t *testing.T) {
	hookURL := bustest.NewWebhook(t, nil).URL
	base := bustest.Start(t, bus.Config{MaxBodyBytes: 1024, Routes: []router.Route{route("r", hookURL, "")}}).URL
	structured := "application/cloudevents+json"
	cases := []struct {
		name        string
		contentType string
		headers     map[string]string
		body        string
		status      int
		mention     string // the message must contain this
	}{
		{"binary missing id", "application/json", binaryHeaders(map[string]string{"ce-id": ""}), `{}`, 400, "id"},
		{"binary blank id", "application/json", binaryHeaders(map[string]string{"ce-id": " "}), `{}`, 400, "id"},
		{"binary missing source", "application/json", binaryHeaders(map[string]string{"ce-source": ""}), `{}`, 400, "source"},
		{"binary missing type", "application/json", binaryHeaders(map[string]string{"ce-type": ""}), `{}`, 400, "type"},
		{"binary missing specversion", "application/json", binaryHeaders(map[string]string{"ce-specversion": ""}), `{}`, 400, "specversion"},
		{"binary wrong specversion", "application/json", binaryHeaders(map[string]string{"ce-specversion": "0.3"}), `{}`, 400, "specversion"},
		{"binary bad time", "application/json", binaryHeaders(map[string]string{"ce-time": "yesterday"}), `{}`, 400, "time"},
		{"binary bad extension name", "application/json", binaryHeaders(map[string]string{"ce-bad_ext": "x"}), `{}`, 400, "bad_ext"},
		{"binary bad percent-encoding", "application/json", binaryHeaders(map[string]string{"ce-note": "100%"}), `{}`, 400, "note"},
		{"structured missing id", structured, nil, `{"specversion":"1.0","source":"/s","type":"t"}`, 400, "id"},
		{"structured empty id", structured, nil, `{"specversion":"1.0","id":"","source":"/s","type":"t"}`, 400, "id"},
		{"structured missing source", structured, nil, `{"specversion":"1.0","id":"1","type":"t"}`, 400, "source"},
		{"structured missing type", structured, nil, `{"specversion":"1.0","id":"1","source":"/s"}`, 400, "type"},
		{"structured missing specversion", structured, nil, `{"id":"1","source":"/s","type":"t"}`, 400, "specversion"},
		{"structured wrong specversion", structured, nil, `{"specversion":"2.0","id":"1","source":"/s","type":"t"}`, 400, "specversion"},
		{"structured bad time", structured, nil, `{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"noon"}`, 400, "time"},
		{"structured bad extension name", structured, nil, `{"specversion":"1.0","id":"1","source":"/s","type":"t","Bad-Ext":1}`, 400, "Bad-Ext"},
		{"structured upper-case extension name", structured, nil, `{"specversion":"1.0","id":"1","source":"/s","type":"t","myExt":"x"}`, 400, "myExt"},
		{"structured id not a string", structured, nil, `{"specversion":"1.0","id":7,"source":"/s","type":"t"}`, 400, "id"},
		{"unparsable JSON", structured, nil, `{"specversion":"1.0",`, 400, "JSON"},
		{"batch not an array", "application/cloudevents-batch+json", nil, `{"specversion":"1.0"}`, 400, "array"},
		{"empty batch", "application/cloudevents-batch+json", nil, `[]`, 400, "no events"},
		{"body over the limit", structured, nil, `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"` + strings.Repeat("x", 2000) + `"}`, 413, "1024"},
		{"unknown content type", "text/plain", nil, `hello`, 415, "text/plain"},
		{"no content type and no ce headers", "", nil, `hello`, 415, "ce-"},
		{"unsupported event format", "application/cloudevents+xml", nil, `<e/>`, 415, "xml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, base+"/events", tc.contentType, tc.headers, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if !strings.Contains(body, tc.mention) {
				t.Errorf("message %s does not mention %q: a producer could not tell what to fix", body, tc.mention)
			}
		})
	}
}

// In a batch, each event stands alone: good ones are stored, bad ones get
// their own error, and the request as a whole is accepted.
func TestBatchWithOneBadEventAcceptsTheOthers(t *testing.T) {
	hook := bustest.NewWebhook(t, nil)
	base := bustest.Start(t, bus.Config{Routes: []router.Route{route("r", hook.URL, "")}}).URL
	batch := `[
		{"specversion":"1.0","id":"good-1","source":"/s","type":"t"},
		{"specversion":"1.0","id":"bad","source":"/s"},
		{"specversion":"1.0","id":"good-2","source":"/s","type":"t"}
	]`
	resp, body := post(t, base+"/events", "application/cloudevents-batch+json", nil, batch)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202; body %s", resp.StatusCode, body)
	}
	var answer struct {
		Results []struct {
			ID     string   `json:"id"`
			Routes []string `json:"routes"`
			Error  *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		t.Fatal(err)
	}
	if len(answer.Results) != 3 {
		t.Fatalf("%d results, want one per event: %s", len(answer.Results), body)
	}
	if r := answer.Results[1]; r.ID != "bad" || r.Error == nil || !strings.Contains(r.Error.Message, "type") {
		t.Errorf("the bad event's result = %+v, want an error naming type", r)
	}
	for _, i := range []int{0, 2} {
		if r := answer.Results[i]; r.Error != nil || len(r.Routes) != 1 {
			t.Errorf("result %d = %+v, want stored on route r", i, r)
		}
	}
	ids := map[string]bool{hook.Next(t).Header.Get("Ce-Id"): true, hook.Next(t).Header.Get("Ce-Id"): true}
	if !ids["good-1"] || !ids["good-2"] {
		t.Errorf("delivered %v, want good-1 and good-2", ids)
	}
}

// A batch whose every event is bad stores nothing, so it gets no 2xx.
func TestBatchOfOnlyBadEventsIsNot2xx(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	resp, body := post(t, base+"/events", "application/cloudevents-batch+json", nil,
		`[{"specversion":"1.0","id":"a"},{"specversion":"1.0","id":"b"}]`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"results"`) {
		t.Fatalf("status %d body %s, want 400 with per-event results", resp.StatusCode, body)
	}
}

func TestUnknownBusIsNotFound(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	resp, body := post(t, base+"/buses/nope/events", "", binaryHeaders(nil), `{}`)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `nope`) {
		t.Fatalf("status %d body %s, want 404 naming the bus", resp.StatusCode, body)
	}
}

// A full channel refuses with 429 and Retry-After rather than dropping.
func TestFullChannelAnswers429WithRetryAfter(t *testing.T) {
	hookURL := bustest.NewWebhook(t, nil).URL
	r := route("r", hookURL, "")
	r.Paused = true
	r.Backend = "mem://?max_depth=2"
	base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL
	for i, want := range []int{202, 202, 429} {
		resp, body := post(t, base+"/events", "", binaryHeaders(map[string]string{"ce-id": string(rune('a' + i))}), `{}`)
		if resp.StatusCode != want {
			t.Fatalf("event %d: status %d, want %d; body %s", i, resp.StatusCode, want, body)
		}
		if want == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After: producers would not know when to retry")
		}
	}
}
