package provider

import (
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/eventbus-go/eventbus/sdk"
)

// aclModel is a bus's ACL in Terraform. Emit grants are always objects
// here; the bus's short form, a bare group name, reads back as {groups =
// [name]}.
type aclModel struct {
	Emit    []emitGrantModel `tfsdk:"emit"`
	Manage  []types.String   `tfsdk:"manage"`
	Read    []types.String   `tfsdk:"read"`
	Redrive []types.String   `tfsdk:"redrive"`
}

type emitGrantModel struct {
	Groups  []types.String `tfsdk:"groups"`
	Types   []types.String `tfsdk:"types"`
	Sources []types.String `tfsdk:"sources"`
}

const (
	aclDescription     = "Which groups may use the bus when the bus process has authentication on (docs/security.md). Unset, the bus is for the process's auth.admins only. Only admins may change it."
	emitDescription    = "Grants to emit events: groups, optionally narrowed to event types and sources matching one of the patterns ('*' matches any run of characters)."
	manageDescription  = "Groups that may create, change and delete the bus's routes."
	readDescription    = "Groups that may see the bus, its routes, their stats and dead letters."
	redriveDescription = "Groups that may put dead letters back for delivery."
)

// aclResourceAttribute is the acl attribute of eventbus_bus.
func aclResourceAttribute() rschema.Attribute {
	list := func(d string) rschema.ListAttribute {
		return rschema.ListAttribute{Description: d, ElementType: types.StringType, Optional: true}
	}
	return rschema.SingleNestedAttribute{
		Description: aclDescription,
		Optional:    true,
		Attributes: map[string]rschema.Attribute{
			"emit": rschema.ListNestedAttribute{
				Description: emitDescription,
				Optional:    true,
				NestedObject: rschema.NestedAttributeObject{Attributes: map[string]rschema.Attribute{
					"groups":  rschema.ListAttribute{Description: "The groups; \"*\" is any authenticated caller.", ElementType: types.StringType, Required: true},
					"types":   list("Event type patterns, such as order.*; unset allows every type."),
					"sources": list("Event source patterns, such as partner/*; unset allows every source."),
				}},
			},
			"manage":  list(manageDescription),
			"read":    list(readDescription),
			"redrive": list(redriveDescription),
		},
	}
}

// aclDataSourceAttribute is the acl attribute of the eventbus_bus data
// source.
func aclDataSourceAttribute() dsschema.Attribute {
	list := func(d string) dsschema.ListAttribute {
		return dsschema.ListAttribute{Description: d, ElementType: types.StringType, Computed: true}
	}
	return dsschema.SingleNestedAttribute{
		Description: aclDescription,
		Computed:    true,
		Attributes: map[string]dsschema.Attribute{
			"emit": dsschema.ListNestedAttribute{
				Description: emitDescription,
				Computed:    true,
				NestedObject: dsschema.NestedAttributeObject{Attributes: map[string]dsschema.Attribute{
					"groups":  list("The groups; \"*\" is any authenticated caller."),
					"types":   list("Event type patterns; null allows every type."),
					"sources": list("Event source patterns; null allows every source."),
				}},
			},
			"manage":  list(manageDescription),
			"read":    list(readDescription),
			"redrive": list(redriveDescription),
		},
	}
}

func (m *aclModel) toAPI() *sdk.ACL {
	if m == nil {
		return nil
	}
	acl := &sdk.ACL{Manage: strs(m.Manage), Read: strs(m.Read), Redrive: strs(m.Redrive)}
	for _, g := range m.Emit {
		acl.Emit = append(acl.Emit, sdk.EmitGrant{Groups: strs(g.Groups), Types: strs(g.Types), Sources: strs(g.Sources)})
	}
	return acl
}

func aclFromAPI(acl *sdk.ACL) *aclModel {
	if acl == nil {
		return nil
	}
	m := &aclModel{Manage: stringValues(acl.Manage), Read: stringValues(acl.Read), Redrive: stringValues(acl.Redrive)}
	for _, g := range acl.Emit {
		m.Emit = append(m.Emit, emitGrantModel{Groups: stringValues(g.Groups), Types: stringValues(g.Types), Sources: stringValues(g.Sources)})
	}
	return m
}

func strs(vs []types.String) []string {
	if vs == nil {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ValueString()
	}
	return out
}

// stringValues is nil, Terraform's null, for an empty list: the bus leaves
// empty lists out of its answers.
func stringValues(ss []string) []types.String {
	if len(ss) == 0 {
		return nil
	}
	out := make([]types.String, len(ss))
	for i, s := range ss {
		out[i] = types.StringValue(s)
	}
	return out
}
