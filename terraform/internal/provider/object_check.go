package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// objectCheck validates a nested object's attributes against each other,
// as the bus would, so a mistake fails the plan rather than the apply. It
// runs only on a known, non-null object.
type objectCheck struct {
	description string
	check       func(attrs map[string]attr.Value, at path.Path, diags *diag.Diagnostics)
}

var _ validator.Object = objectCheck{}

func (c objectCheck) Description(context.Context) string         { return c.description }
func (c objectCheck) MarkdownDescription(context.Context) string { return c.description }

func (c objectCheck) ValidateObject(_ context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	c.check(req.ConfigValue.Attributes(), req.Path, &resp.Diagnostics)
}
