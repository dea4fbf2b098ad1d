package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/eventbus-go/eventbus/sdk"
)

// schemaTypes is what addAPIError needs of a resource or data source schema:
// whether an attribute path exists.
type schemaTypes interface {
	TypeAtPath(context.Context, path.Path) (attr.Type, diag.Diagnostics)
}

// addAPIError reports a failed call to the bus as diagnostics. Each field
// the bus names in a validation error is attached to the attribute at the
// same path, so Terraform points at the offending line of the
// configuration; summary says what was being done ("Creating route
// \"signup-mail\"").
func addAPIError(ctx context.Context, diags *diag.Diagnostics, s schemaTypes, summary string, err error) {
	var apiErr *sdk.Error
	if !errors.As(err, &apiErr) {
		diags.AddError(summary, fmt.Sprintf("%v\n\nCheck that the bus is running and that the provider's endpoint (or EVENTBUS_ENDPOINT) points at it.", err))
		return
	}
	switch {
	case apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden:
		diags.AddError(summary, fmt.Sprintf("%s\n\nThe bus refused the request: check the provider's token (or EVENTBUS_TOKEN).", apiErr.Message))
	case len(apiErr.Fields) > 0:
		for _, f := range apiErr.Fields {
			p, ok := attributePath(ctx, s, f.Path)
			if !ok {
				diags.AddError(summary, fmt.Sprintf("%s: %s", f.Path, f.Message))
				continue
			}
			diags.AddAttributeError(p, summary, fmt.Sprintf("%s: %s", f.Path, f.Message))
		}
	default:
		diags.AddError(summary, apiErr.Message)
	}
}

// attributePath maps a field path of the bus's API ("delivery.overflow",
// "match.data.plan[0].prefix") to the top-level attribute it falls in
// (delivery, match): the attribute names of this provider are those of the
// API. Terraform points at the configuration line of a top-level attribute,
// but not of one nested in an object, so the error names the full field
// path in its message instead.
func attributePath(ctx context.Context, s schemaTypes, fieldPath string) (path.Path, bool) {
	name, _, _ := strings.Cut(fieldPath, ".")
	name, _, _ = strings.Cut(name, "[")
	p := path.Root(name)
	_, diags := s.TypeAtPath(ctx, p)
	return p, !diags.HasError()
}
