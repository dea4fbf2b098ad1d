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
// "match.data.plan[0].prefix") to the deepest attribute or block of the
// schema on it (delivery.overflow, match): the names of this provider are
// those of the API. Terraform points at that argument's line in the
// configuration, or at its block when the argument is not written there;
// the message names the full field path.
func attributePath(ctx context.Context, s schemaTypes, fieldPath string) (path.Path, bool) {
	p, found := path.Empty(), false
	for step := range strings.SplitSeq(fieldPath, ".") {
		name, _, indexed := strings.Cut(step, "[")
		next := p.AtName(name)
		if _, diags := s.TypeAtPath(ctx, next); diags.HasError() {
			break
		}
		p, found = next, true
		if indexed { // only JSON attributes hold lists: filters[1].sql
			break
		}
	}
	return p, found
}

// alreadyExists explains a create that the bus refused because it has a
// kind ("route", "bus") of that name, from origin, and says what to do.
func alreadyExists(kind, name, origin string) string {
	if origin == originConfig {
		return fmt.Sprintf("The bus already has a %s %q, from its config file, where it is read-only through the API. Change it in the config file, or give this one another name.", kind, name)
	}
	return fmt.Sprintf("The bus already has a %s %q (origin %q). Import it to manage it here: terraform import <resource address> %s", kind, name, origin, name)
}
