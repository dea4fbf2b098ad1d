package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/attr/xattr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// durationType is a string attribute holding a Go duration such as "200ms"
// or "1m". Two values that parse to the same duration are semantically
// equal, so "1m" in a configuration and the bus's "1m0s" cause no diff.
type durationType struct {
	basetypes.StringType
}

var _ basetypes.StringTypable = durationType{}

func (t durationType) Equal(o attr.Type) bool {
	_, ok := o.(durationType)
	return ok
}

func (t durationType) String() string { return "durationType" }

func (t durationType) ValueFromString(_ context.Context, in basetypes.StringValue) (basetypes.StringValuable, diag.Diagnostics) {
	return durationValue{StringValue: in}, nil
}

func (t durationType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	v, err := t.StringType.ValueFromTerraform(ctx, in)
	if err != nil {
		return nil, err
	}
	return durationValue{StringValue: v.(basetypes.StringValue)}, nil
}

func (t durationType) ValueType(context.Context) attr.Value { return durationValue{} }

// durationValue is a value of durationType.
type durationValue struct {
	basetypes.StringValue
}

var (
	_ basetypes.StringValuableWithSemanticEquals = durationValue{}
	_ xattr.ValidateableAttribute                = durationValue{}
)

func durationNull() durationValue { return durationValue{StringValue: basetypes.NewStringNull()} }

// durationOf is d as the bus writes it ("1m0s"), or null when d is empty.
func durationOf(d string) durationValue {
	if d == "" {
		return durationNull()
	}
	return durationValue{StringValue: basetypes.NewStringValue(d)}
}

func (v durationValue) Type(context.Context) attr.Type { return durationType{} }

func (v durationValue) Equal(o attr.Value) bool {
	other, ok := o.(durationValue)
	return ok && v.StringValue.Equal(other.StringValue)
}

func (v durationValue) StringSemanticEquals(_ context.Context, newValuable basetypes.StringValuable) (bool, diag.Diagnostics) {
	newValue, ok := newValuable.(durationValue)
	if !ok {
		return false, nil
	}
	a, errA := time.ParseDuration(v.ValueString())
	b, errB := time.ParseDuration(newValue.ValueString())
	return errA == nil && errB == nil && a == b, nil
}

func (v durationValue) ValidateAttribute(_ context.Context, req xattr.ValidateAttributeRequest, resp *xattr.ValidateAttributeResponse) {
	if v.IsNull() || v.IsUnknown() {
		return
	}
	if _, err := time.ParseDuration(v.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("%q is not a duration: use a number with a unit, such as \"200ms\", \"5s\", \"1m\" or \"1h30m\".", v.ValueString()))
	}
}
