package transform

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The jq features a route's transform is for, one case each: the
// delivered data is the program's, and the attributes it does not set
// stay the event's.
func TestTransformFeatures(t *testing.T) {
	const data = `{"customer":{"name":"Ada","email":"ada@example.com","id":7},"items":[{"sku":"a-1","qty":2},{"sku":"b-2","qty":1}],"total":30}`
	for _, c := range []struct {
		feature, program, want string
	}{
		{"field pick", `.data = {id: .data.customer.id, total: .data.total}`, `{"id":7,"total":30}`},
		{"rename", `.data = (.data | {buyer: .customer.name, amount: .total})`, `{"amount":30,"buyer":"Ada"}`},
		{"rename in place", `.data.customer |= with_entries(if .key == "email" then .key = "mail" else . end)`,
			`{"customer":{"id":7,"mail":"ada@example.com","name":"Ada"},"items":[{"qty":2,"sku":"a-1"},{"qty":1,"sku":"b-2"}],"total":30}`},
		{"template string", `.data = {text: "Order of \(.data.total) from \(.data.customer.name) (\(.source))"}`, `{"text":"Order of 30 from Ada (/shop)"}`},
		{"arrays: map and select", `.data = {skus: [.data.items[] | select(.qty > 1) | .sku], lines: (.data.items | length)}`, `{"lines":2,"skus":["a-1"]}`},
		{"arrays: sum", `.data = {units: ([.data.items[].qty] | add)}`, `{"units":3}`},
		{"attributes as input", `.data = {tenant: .tenant, type: .type}`, `{"tenant":"acme","type":"order.created"}`},
	} {
		t.Run(c.feature, func(t *testing.T) {
			out, err := apply(t, c.program, data)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			var got, want any
			if err := json.Unmarshal(out.Data(), &got); err != nil {
				t.Fatalf("delivered data %s is not JSON: %v", out.Data(), err)
			}
			if err := json.Unmarshal([]byte(c.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("data %s; want %s", out.Data(), c.want)
			}
			if out.ID() != "e-1" || out.Source() != "/shop" || out.Type() != "order.created" {
				t.Errorf("attributes id=%s source=%s type=%s; want the event's", out.ID(), out.Source(), out.Type())
			}
		})
	}
}
