package provider

import (
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/eventbus-go/eventbus/sdk"
)

// archiveModel is a bus's archive in Terraform: off, or limits where null
// takes the bus's default. The bus shows an archive as written, without
// its defaults, so the model is what the configuration wrote.
type archiveModel struct {
	Off      types.Bool    `tfsdk:"off"`
	MaxAge   durationValue `tfsdk:"max_age"`
	MaxBytes types.Int64   `tfsdk:"max_bytes"`
}

const (
	archiveDescription         = "How long the bus keeps the events it accepted, for routes that start earlier than now and for replays (the bus's docs/replay.md). Unset, the bus's defaults: 24h or 1 GiB, whichever is passed first."
	archiveOffDescription      = "Keep no archive: routes cannot start earlier than now and the bus refuses replays."
	archiveMaxAgeDescription   = "Events older than this go, such as \"72h\". Unset, 24h."
	archiveMaxBytesDescription = "Once the archive holds more bytes than this, its oldest events go. Unset, 1073741824 (1 GiB)."
)

// archiveResourceAttribute is the archive attribute of eventbus_bus.
func archiveResourceAttribute() rschema.Attribute {
	return rschema.SingleNestedAttribute{
		Description: archiveDescription,
		Optional:    true,
		Validators:  []validator.Object{offHasNoLimits},
		Attributes: map[string]rschema.Attribute{
			"off": rschema.BoolAttribute{
				Description: archiveOffDescription + " Defaults to false.",
				Optional:    true,
				Computed:    true,
				Default:     booldefault.StaticBool(false),
			},
			"max_age": rschema.StringAttribute{
				Description: archiveMaxAgeDescription,
				Optional:    true,
				CustomType:  durationType{},
			},
			"max_bytes": rschema.Int64Attribute{
				Description: archiveMaxBytesDescription,
				Optional:    true,
				Validators:  []validator.Int64{int64validator.AtLeast(1)},
			},
		},
	}
}

// offHasNoLimits refuses off = true beside a limit: an archive that is off
// keeps nothing, so a limit there is a mistake the bus would drop.
var offHasNoLimits = objectCheck{
	description: "off = true sets neither max_age nor max_bytes",
	check: func(attrs map[string]attr.Value, at path.Path, diags *diag.Diagnostics) {
		off, ok := attrs["off"].(basetypes.BoolValue)
		if !ok || !off.ValueBool() {
			return
		}
		for _, limit := range []string{"max_age", "max_bytes"} {
			if v := attrs[limit]; v != nil && !v.IsNull() {
				diags.AddAttributeError(at.AtName(limit), "Archive off with a limit",
					"An archive that is off keeps nothing: remove "+limit+", or remove off = true to keep an archive with this limit.")
			}
		}
	},
}

// archiveDataSourceAttribute is the archive attribute of the eventbus_bus
// data source.
func archiveDataSourceAttribute() dsschema.Attribute {
	return dsschema.SingleNestedAttribute{
		Description: archiveDescription,
		Computed:    true,
		Attributes: map[string]dsschema.Attribute{
			"off":       dsschema.BoolAttribute{Description: archiveOffDescription, Computed: true},
			"max_age":   dsschema.StringAttribute{Description: archiveMaxAgeDescription, Computed: true, CustomType: durationType{}},
			"max_bytes": dsschema.Int64Attribute{Description: archiveMaxBytesDescription, Computed: true},
		},
	}
}

func (m *archiveModel) toAPI() *sdk.Archive {
	if m == nil {
		return nil
	}
	return &sdk.Archive{Off: m.Off.ValueBool(), MaxAge: m.MaxAge.ValueString(), MaxBytes: m.MaxBytes.ValueInt64()}
}

func archiveFromAPI(a *sdk.Archive) *archiveModel {
	if a == nil {
		return nil
	}
	m := &archiveModel{Off: types.BoolValue(a.Off), MaxAge: durationOf(a.MaxAge), MaxBytes: types.Int64Null()}
	if a.MaxBytes != 0 {
		m.MaxBytes = types.Int64Value(a.MaxBytes)
	}
	return m
}
