package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/eventbus-go/eventbus/sdk"
)

// originConfig is the origin of the buses and routes of the bus's config
// file, which are read-only through the API.
const originConfig = "config"

var (
	_ resource.Resource                = (*busResource)(nil)
	_ resource.ResourceWithConfigure   = (*busResource)(nil)
	_ resource.ResourceWithImportState = (*busResource)(nil)
)

type busResource struct {
	client *sdk.Client
}

func newBusResource() resource.Resource { return &busResource{} }

// busModel is a bus in Terraform, for the resource and the data source.
type busModel struct {
	Name    types.String  `tfsdk:"name"`
	Backend types.String  `tfsdk:"backend"`
	ACL     *aclModel     `tfsdk:"acl"`
	Archive *archiveModel `tfsdk:"archive"`
	Schemas types.String  `tfsdk:"schemas"`
	Version types.Int64   `tfsdk:"version"`
	Origin  types.String  `tfsdk:"origin"`
}

func busFromAPI(b sdk.Bus) busModel {
	return busModel{
		Name:    types.StringValue(b.Name),
		Backend: stringOrNull(b.Backend),
		ACL:     aclFromAPI(b.ACL),
		Archive: archiveFromAPI(b.Archive),
		Schemas: stringOrNull(b.Schemas),
		Version: types.Int64Value(b.Version),
		Origin:  stringOrNull(b.Origin),
	}
}

func (r *busResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_bus"
}

func (r *busResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *busResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A bus: producers emit events to it and routes select from it. The bus \"default\" always exists; managing it sets its backend, and destroying it resets that.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Description:   "The bus's name: 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit. Producers emit to POST /buses/{name}/events. Changing it replaces the bus.",
				Required:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"backend": schema.StringAttribute{
				Description: "The backend URL of the bus's routes that name none, such as rabbit://guest:guest@127.0.0.1:5672/. Unset, they use the bus process's default backend.",
				Optional:    true,
			},
			"acl":     aclResourceAttribute(),
			"archive": archiveResourceAttribute(),
			"schemas": schema.StringAttribute{
				Description: "What ingress does with an event whose data breaks its type's schema (eventbus_schema): \"enforce\" refuses it, \"warn\" accepts, counts and logs it and infers schemas from traffic, \"off\" checks nothing. Unset is off.",
				Optional:    true,
			},
			"version": schema.Int64Attribute{
				Description: "The bus's version, bumped by the bus on every change. Updates send it back, so the bus refuses to overwrite a change made since Terraform last read the bus.",
				Computed:    true,
			},
			"origin": schema.StringAttribute{
				Description:   "Where the bus comes from: \"api\", or \"config\" for buses of the bus's config file, which are read-only.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *busResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan busModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := plan.Name.ValueString()
	summary := fmt.Sprintf("Creating bus %q", name)
	saved, err := r.client.CreateBus(ctx, sdk.Bus{Name: name, Backend: plan.Backend.ValueString(), ACL: plan.ACL.toAPI(), Archive: plan.Archive.toAPI(), Schemas: plan.Schemas.ValueString()})
	if sdk.IsConflict(err) {
		// Most often the bus exists, made outside this configuration. The
		// default bus conflicts only once someone set it: while it is
		// builtin, CreateBus sets it.
		if existing, getErr := r.client.GetBus(ctx, name); getErr == nil {
			resp.Diagnostics.AddError(summary, alreadyExists("bus", existing.Name, existing.Origin))
			return
		}
	}
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.Plan.Schema, summary, err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, busFromAPI(saved))...)
}

func (r *busResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state busModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	bus, err := r.client.GetBus(ctx, state.Name.ValueString())
	if sdk.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.State.Schema, fmt.Sprintf("Reading bus %q", state.Name.ValueString()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, busFromAPI(bus))...)
}

func (r *busResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state busModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	saved, err := r.client.PutBus(ctx, sdk.Bus{
		Name:    plan.Name.ValueString(),
		Backend: plan.Backend.ValueString(),
		ACL:     plan.ACL.toAPI(),
		Archive: plan.Archive.toAPI(),
		Schemas: plan.Schemas.ValueString(),
		Version: state.Version.ValueInt64(),
	})
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.Plan.Schema, fmt.Sprintf("Updating bus %q", plan.Name.ValueString()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, busFromAPI(saved))...)
}

func (r *busResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state busModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Deleting the default bus resets it to the bus process's default backend.
	err := r.client.DeleteBus(ctx, state.Name.ValueString())
	if err != nil && !sdk.IsNotFound(err) {
		addAPIError(ctx, &resp.Diagnostics, req.State.Schema, fmt.Sprintf("Deleting bus %q", state.Name.ValueString()), err)
	}
}

// ImportState takes the bus's name: terraform import eventbus_bus.x orders.
func (r *busResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}
