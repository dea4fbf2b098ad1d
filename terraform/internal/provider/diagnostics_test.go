package provider

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/eventbus-go/eventbus/sdk"
)

func routeSchema(t *testing.T) schemaTypes {
	t.Helper()
	var resp resource.SchemaResponse
	newRouteResource().Schema(context.Background(), resource.SchemaRequest{}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	return resp.Schema
}

func TestBusFieldErrorsLandOnTheirArgument(t *testing.T) {
	err := &sdk.Error{Status: http.StatusBadRequest, Code: sdk.CodeInvalidArgument, Message: "2 problems", Fields: []sdk.FieldIssue{
		{Path: "delivery.backoff.max", Message: "must not be below backoff.initial"},
		{Path: "match.data.plan[0].prefix", Message: "must be a string"},
		{Path: "filters[1].sql", Message: "syntax error"},
		{Path: "event", Message: "not a route field"},
	}}
	var diags diag.Diagnostics
	addAPIError(context.Background(), &diags, routeSchema(t), `Creating route "x"`, err)

	want := []struct {
		path   path.Path
		detail string
	}{
		{path.Root("delivery").AtName("backoff").AtName("max"), "delivery.backoff.max: must not be below backoff.initial"},
		{path.Root("match"), "match.data.plan[0].prefix: must be a string"},
		{path.Root("filters"), "filters[1].sql: syntax error"},
		{path.Empty(), "event: not a route field"},
	}
	if len(diags) != len(want) {
		t.Fatalf("got %d diagnostics, want one per field: %v", len(diags), diags)
	}
	for i, w := range want {
		p := path.Empty()
		if withPath, ok := diags[i].(diag.DiagnosticWithPath); ok {
			p = withPath.Path()
		}
		if !p.Equal(w.path) || diags[i].Detail() != w.detail {
			t.Errorf("diagnostic %d: at %q with %q, want at %q with %q", i, p, diags[i].Detail(), w.path, w.detail)
		}
	}
}

func TestUnreachableBusErrorSaysWhatToCheck(t *testing.T) {
	var diags diag.Diagnostics
	addAPIError(context.Background(), &diags, routeSchema(t), `Reading route "x"`, errors.New("dial tcp 127.0.0.1:1: connection refused"))
	if len(diags) != 1 || !strings.Contains(diags[0].Detail(), "EVENTBUS_ENDPOINT") {
		t.Errorf("got %v, want one error that points at the endpoint setting", diags)
	}
}
