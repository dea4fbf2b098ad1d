package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/eventbus-go/eventbus/sdk"
)

var (
	_ resource.Resource                = (*schemaResource)(nil)
	_ resource.ResourceWithConfigure   = (*schemaResource)(nil)
	_ resource.ResourceWithImportState = (*schemaResource)(nil)
)

// schemaResource is the JSON Schema of one event type; each change of the
// document is a new version on the bus.
type schemaResource struct {
	client *sdk.Client
}

func newSchemaResource() resource.Resource { return &schemaResource{} }

type schemaModel struct {
	Type    types.String `tfsdk:"type"`
	Schema  types.String `tfsdk:"schema"`
	Version types.Int64  `tfsdk:"version"`
}

func (r *schemaResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_schema"
}

func (r *schemaResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *schemaResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The JSON Schema (draft 2020-12) of an event type's data. Buses with schemas = \"enforce\" refuse events that break it. Each change of the document is a new version; destroying deletes every version.",
		Attributes: map[string]schema.Attribute{
			"type": schema.StringAttribute{
				Description:   "The CloudEvents type the schema is for, such as order.created. Changing it replaces the schema.",
				Required:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"schema": schema.StringAttribute{
				Description: "The JSON Schema document, as JSON (jsonencode({...}) or file(\"order.json\")). The bus refuses a document that is not a valid schema, naming the place in it.",
				Required:    true,
			},
			"version": schema.Int64Attribute{
				Description: "The schema's version on the bus: 1 for the first document, +1 for each change.",
				Computed:    true,
			},
		},
	}
}

// schemaFromAPI is s in Terraform; the document keeps the configuration's
// spelling when it means the same JSON, so that reading it back is no
// change.
func schemaFromAPI(s sdk.Schema, configured types.String) schemaModel {
	doc := types.StringValue(string(s.Schema))
	if !configured.IsNull() && !configured.IsUnknown() && sameJSON(configured.ValueString(), string(s.Schema)) {
		doc = configured
	}
	return schemaModel{Type: types.StringValue(s.Type), Schema: doc, Version: types.Int64Value(int64(s.Version))}
}

func sameJSON(a, b string) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, []byte(a)) != nil || json.Compact(&cb, []byte(b)) != nil {
		return false
	}
	var va, vb any
	if json.Unmarshal(ca.Bytes(), &va) != nil || json.Unmarshal(cb.Bytes(), &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va) // sorts keys
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// save puts the planned document as the newest version; a create and an
// update are the same request.
func (r *schemaResource) save(ctx context.Context, planned tfsdk.Plan, state *tfsdk.State, diags *diag.Diagnostics) {
	var plan schemaModel
	diags.Append(planned.Get(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	saved, err := r.client.PutSchema(ctx, plan.Type.ValueString(), json.RawMessage(plan.Schema.ValueString()))
	if err != nil {
		addAPIError(ctx, diags, planned.Schema, fmt.Sprintf("Saving the schema of %q", plan.Type.ValueString()), err)
		return
	}
	diags.Append(state.Set(ctx, schemaFromAPI(saved, plan.Schema))...)
}

func (r *schemaResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.save(ctx, req.Plan, &resp.State, &resp.Diagnostics)
}

func (r *schemaResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state schemaModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.client.GetSchema(ctx, state.Type.ValueString(), 0)
	if sdk.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.State.Schema, fmt.Sprintf("Reading the schema of %q", state.Type.ValueString()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, schemaFromAPI(s, state.Schema))...)
}

func (r *schemaResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.save(ctx, req.Plan, &resp.State, &resp.Diagnostics)
}

func (r *schemaResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state schemaModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.DeleteSchema(ctx, state.Type.ValueString(), 0); err != nil && !sdk.IsNotFound(err) {
		addAPIError(ctx, &resp.Diagnostics, req.State.Schema, fmt.Sprintf("Deleting the schema of %q", state.Type.ValueString()), err)
	}
}

// ImportState takes the event type: terraform import eventbus_schema.x order.created.
func (r *schemaResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("type"), req, resp)
}
