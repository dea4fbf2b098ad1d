package bus_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
)

// orderSchema exercises one rule of each failure class ingress reports.
const orderSchema = `{
  "type": "object",
  "required": ["customer", "quantity"],
  "properties": {
    "quantity": {"type": "integer"},
    "status":   {"enum": ["new", "paid"]},
    "customer": {
      "type": "object",
      "properties": {"email": {"type": "string", "format": "email"}}
    },
    "lines": {"type": "array", "items": {"type": "object", "required": ["sku"]}}
  }
}`

type fieldIssue struct{ Path, Message string }

// errorFields reads the "fields" of an error answer: of the admin API, or
// of the ingress's first result.
func errorFields(t *testing.T, body string) []fieldIssue {
	t.Helper()
	type apiError struct {
		Error struct{ Fields []fieldIssue }
	}
	var answer struct {
		apiError
		Results []apiError
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		t.Fatalf("answer %s is not an error document: %v", body, err)
	}
	if len(answer.Results) > 0 {
		return answer.Results[0].Error.Fields
	}
	return answer.Error.Fields
}

// startEnforcing starts a bus whose default bus enforces schemas (set the
// way an operator would, PUT /v1/buses/default) with orderSchema for
// order.created.
func startWithSchemas(t *testing.T, mode string) string {
	t.Helper()
	base := bustest.Start(t, bus.Config{}).URL
	if status, body := do(t, "PUT", base+"/v1/schemas/order.created", orderSchema); status != http.StatusCreated {
		t.Fatalf("PUT schema: %d %s, want 201", status, body)
	}
	if status, body := do(t, "PUT", base+"/v1/buses/default", `{"schemas": "`+mode+`"}`); status/100 != 2 {
		t.Fatalf("PUT bus schemas %s: %d %s", mode, status, body)
	}
	return base
}

func emitOrder(t *testing.T, base, id, data string) (int, string) {
	t.Helper()
	resp, body := post(t, base+"/events", "application/json",
		binaryHeaders(map[string]string{"ce-type": "order.created", "ce-id": id}), data)
	return resp.StatusCode, body
}

// Each class of JSON Schema failure is refused with 400 naming the place
// in the event's data and the rule it breaks, so a producer can fix its
// event without reading the schema.
func TestEnforcedSchemaRefusesEachFailureClassNamingPathAndRule(t *testing.T) {
	base := startWithSchemas(t, "enforce")
	for _, tc := range []struct {
		name, data, path, rule string
	}{
		{"wrong type", `{"customer": {}, "quantity": "two"}`, "data.quantity", "type"},
		{"missing required field", `{"customer": {}}`, "data.quantity", "required"},
		{"value outside an enum", `{"customer": {}, "quantity": 1, "status": "lost"}`, "data.status", "enum"},
		{"bad format", `{"customer": {"email": "not-an-address"}, "quantity": 1}`, "data.customer.email", "format"},
		{"nested in an array", `{"customer": {}, "quantity": 1, "lines": [{"sku": "a"}, {}]}`, "data.lines[1].sku", "required"},
		{"data not an object", `[1, 2]`, "data", "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := emitOrder(t, base, tc.name, tc.data)
			if status != http.StatusBadRequest {
				t.Fatalf("emit %s: %d %s; want 400: an event breaking an enforced schema must not be stored", tc.data, status, body)
			}
			fields := errorFields(t, body)
			if !strings.Contains(body, `"id":"`+tc.name+`"`) {
				t.Errorf("answer %s does not name the event %q", body, tc.name)
			}
			if len(fields) == 0 || fields[0].Path != tc.path || !strings.HasPrefix(fields[0].Message, tc.rule+":") {
				t.Fatalf("emit %s answered fields %+v; want path %s and a message starting %q", tc.data, fields, tc.path, tc.rule+":")
			}
		})
	}
	if status, body := emitOrder(t, base, "good", `{"customer": {"email": "a@example.com"}, "quantity": 2, "status": "new"}`); status != http.StatusAccepted {
		t.Fatalf("a valid event: %d %s; want 202", status, body)
	}
	other := binaryHeaders(map[string]string{"ce-type": "no.schema", "ce-id": "free"})
	if resp, body := post(t, base+"/events", "application/json", other, `"anything"`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("an event of a type without a schema: %d %s; want 202", resp.StatusCode, body)
	}
}

// In a batch, only the event that breaks the schema is refused; the
// others are stored and delivered.
func TestBatchWithOneEventBreakingTheSchemaKeepsTheOthers(t *testing.T) {
	base := startWithSchemas(t, "enforce")
	hook := bustest.NewWebhook(t, nil)
	if status, body := do(t, "PUT", base+"/v1/routes/orders", `{"match":{"type":["order.created"]},"target":{"http":{"url":"`+hook.URL+`"}}}`); status != http.StatusCreated {
		t.Fatalf("create route: %d %s", status, body)
	}
	event := func(id, data string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/shop","type":"order.created","datacontenttype":"application/json","data":%s}`, id, data)
	}
	batch := "[" + strings.Join([]string{
		event("b1", `{"customer":{},"quantity":1}`),
		event("b2", `{"customer":{},"quantity":1.5}`),
		event("b3", `{"customer":{},"quantity":3}`),
	}, ",") + "]"
	resp, body := post(t, base+"/events", "application/cloudevents-batch+json", nil, batch)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("batch: %d %s; want 202, since two of its events are valid", resp.StatusCode, body)
	}
	var answer struct {
		Results []struct {
			ID     string
			Routes []string
			Error  *struct{ Fields []fieldIssue }
		}
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil || len(answer.Results) != 3 {
		t.Fatalf("batch answer %s: want three results", body)
	}
	for i, r := range answer.Results {
		invalid := i == 1
		switch {
		case invalid && (r.Error == nil || len(r.Error.Fields) == 0 || r.Error.Fields[0].Path != "data.quantity"):
			t.Errorf("result of b2 (quantity 1.5) is %+v; want an error naming data.quantity", r)
		case !invalid && (r.Error != nil || len(r.Routes) != 1):
			t.Errorf("result of %s is %+v; want it stored on route orders", r.ID, r)
		}
	}
	got := hook.WaitFor(t, 2)
	for _, d := range got {
		if id := d.Header.Get("Ce-Id"); id != "b1" && id != "b3" {
			t.Errorf("the route was delivered %s; want only b1 and b3", id)
		}
	}
}

// With warn, breaking events are accepted and counted, and the bus shows a
// schema inferred from the traffic of each type.
func TestWarnAcceptsBrokenEventsAndInfersSchemas(t *testing.T) {
	base := startWithSchemas(t, "warn")
	for i, data := range []string{
		`{"customer": {"email": "a@example.com"}, "quantity": 1}`,
		`{"customer": {"email": "b@example.com"}, "quantity": "many", "note": "x"}`,
	} {
		if status, body := emitOrder(t, base, fmt.Sprint("w", i), data); status != http.StatusAccepted {
			t.Fatalf("emit %s with warn: %d %s; want 202", data, status, body)
		}
	}
	resp, body := post(t, base+"/events", "application/json",
		binaryHeaders(map[string]string{"ce-type": "user.signed_up", "ce-id": "u1"}), `{"plan": "pro", "seats": 3}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("emit user.signed_up: %d %s", resp.StatusCode, body)
	}

	status, body := do(t, "GET", base+"/v1/buses/default/schemas/inferred", "")
	if status != http.StatusOK {
		t.Fatalf("GET inferred: %d %s", status, body)
	}
	var answer struct {
		Schemas []struct {
			Type               string
			Events, Violations int
			Schema             map[string]any
		}
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil || len(answer.Schemas) != 2 {
		t.Fatalf("inferred %s: want one schema per type seen", body)
	}
	order, user := answer.Schemas[0], answer.Schemas[1]
	if order.Type != "order.created" || order.Events != 2 || order.Violations != 1 {
		t.Errorf("order.created inferred as %+v; want 2 events, 1 violation", order)
	}
	props, _ := order.Schema["properties"].(map[string]any)
	quantity, _ := props["quantity"].(map[string]any)
	if fmt.Sprint(quantity["type"]) != "[integer string]" || fmt.Sprint(order.Schema["required"]) != "[customer quantity]" {
		t.Errorf("order.created schema %v; want quantity integer or string, and only the fields of every event required", order.Schema)
	}
	if user.Type != "user.signed_up" || fmt.Sprint(user.Schema["required"]) != "[plan seats]" {
		t.Errorf("user.signed_up inferred as %+v; want its fields, a type without a schema discovered too", user)
	}
}

// A schema that is not valid JSON Schema is refused when saved, naming
// the place in it at fault; a changed schema is a new version, an
// unchanged one is not; an event may pin an older version with dataschema.
func TestSchemaVersionsAndBadSchemas(t *testing.T) {
	base := startWithSchemas(t, "enforce")
	status, body := do(t, "PUT", base+"/v1/schemas/bad.schema", `{"properties": {"n": {"type": "integr"}}}`)
	if fields := errorFields(t, body); status != http.StatusBadRequest || len(fields) == 0 || !strings.HasPrefix(fields[0].Path, "schema.properties.n.type") {
		t.Fatalf("PUT a schema with type integr: %d %s; want 400 naming schema.properties.n.type", status, body)
	}
	if status, body := do(t, "PUT", base+"/v1/schemas/bad.schema", `{"$ref": "https://example.com/other.json"}`); status != http.StatusBadRequest || !strings.Contains(body, "within itself") {
		t.Fatalf("PUT a schema referring to the network: %d %s; want 400: a schema may not load anything", status, body)
	}

	if status, body := do(t, "PUT", base+"/v1/schemas/order.created", orderSchema); status != http.StatusOK || !strings.Contains(body, `"version":1`) {
		t.Fatalf("PUT the same schema again: %d %s; want 200 and still version 1", status, body)
	}
	v2 := `{"type": "object", "required": ["total"]}`
	if status, body := do(t, "PUT", base+"/v1/schemas/order.created", v2); status != http.StatusOK || !strings.Contains(body, `"version":2`) || !strings.Contains(body, `"versions":[1,2]`) {
		t.Fatalf("PUT a changed schema: %d %s; want version 2", status, body)
	}
	if status, body := do(t, "GET", base+"/v1/schemas/order.created?version=1", ""); status != http.StatusOK || !strings.Contains(body, `"quantity"`) {
		t.Fatalf("GET version 1: %d %s; want the first schema", status, body)
	}

	old := `{"customer": {}, "quantity": 1}`
	if status, body := emitOrder(t, base, "latest", old); status != http.StatusBadRequest || !strings.Contains(body, "data.total") {
		t.Fatalf("an event of the old shape against version 2: %d %s; want 400 naming data.total", status, body)
	}
	pinned := binaryHeaders(map[string]string{"ce-type": "order.created", "ce-id": "pinned",
		"ce-dataschema": "http://bus.example/v1/schemas/order.created?version=1"})
	if resp, body := post(t, base+"/events", "application/json", pinned, old); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("an event pinning version 1: %d %s; want 202", resp.StatusCode, body)
	}
	pinned["ce-dataschema"] = "http://bus.example/v1/schemas/order.created?version=7"
	pinned["ce-id"] = "pinned-7"
	if resp, body := post(t, base+"/events", "application/json", pinned, old); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "dataschema") {
		t.Fatalf("an event pinning a version that does not exist: %d %s; want 400 naming dataschema", resp.StatusCode, body)
	}

	if status, body := do(t, "DELETE", base+"/v1/schemas/order.created?version=2", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE version 2: %d %s", status, body)
	}
	if status, body := emitOrder(t, base, "after-delete", old); status != http.StatusAccepted {
		t.Fatalf("the old shape once version 2 is deleted: %d %s; want 202 (version 1 is the latest again)", status, body)
	}
	if status, body := do(t, "DELETE", base+"/v1/schemas/order.created", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE the schema: %d %s", status, body)
	}
	if status, body := do(t, "GET", base+"/v1/schemas/order.created", ""); status != http.StatusNotFound {
		t.Fatalf("GET a deleted schema: %d %s; want 404", status, body)
	}
}
