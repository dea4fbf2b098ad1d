package provider

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/eventbus-go/eventbus/sdk"
)

var (
	_ resource.Resource                = (*scheduleResource)(nil)
	_ resource.ResourceWithConfigure   = (*scheduleResource)(nil)
	_ resource.ResourceWithImportState = (*scheduleResource)(nil)
)

// scheduleResource is a schedule: an event the bus emits on a cron
// expression or once at a time.
type scheduleResource struct {
	client *sdk.Client
}

func newScheduleResource() resource.Resource { return &scheduleResource{} }

type scheduleModel struct {
	Name     types.String       `tfsdk:"name"`
	Bus      types.String       `tfsdk:"bus"`
	Cron     types.String       `tfsdk:"cron"`
	At       types.String       `tfsdk:"at"`
	TimeZone types.String       `tfsdk:"time_zone"`
	Event    scheduleEventModel `tfsdk:"event"`
	Version  types.Int64        `tfsdk:"version"`
}

type scheduleEventModel struct {
	Type            types.String `tfsdk:"type"`
	Source          types.String `tfsdk:"source"`
	Subject         types.String `tfsdk:"subject"`
	DataContentType types.String `tfsdk:"datacontenttype"`
	Data            types.String `tfsdk:"data"`
	Extensions      types.Map    `tfsdk:"extensions"`
}

func (r *scheduleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_schedule"
}

func (r *scheduleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *scheduleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	optional := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Description: desc, Optional: true}
	}
	resp.Schema = schema.Schema{
		Description: "A schedule: the bus emits an event on a cron expression, or once at a time, once across its replicas.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Description:   "The schedule's name. Changing it replaces the schedule.",
				Required:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"bus": schema.StringAttribute{
				Description: "The bus the events go to.",
				Optional:    true,
				Computed:    true,
				Default:     stringdefault.StaticString("default"),
			},
			"cron":      optional("Five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @every 10m. Exactly one of cron and at."),
			"at":        optional("Fire once: 2026-12-24T18:00:00Z, or 2026-12-24T18:00:00 in time_zone."),
			"time_zone": optional("IANA time zone (Europe/Berlin) cron and at are read in; unset is UTC."),
			"event": schema.SingleNestedAttribute{
				Description: "The CloudEvent emitted; the bus sets its id ({name}@{firing time}), time and the extension schedule.",
				Required:    true,
				Attributes: map[string]schema.Attribute{
					"type":            schema.StringAttribute{Description: "The event's type.", Required: true},
					"source":          optional("The event's source; unset is /schedules/{name}."),
					"subject":         optional("The event's subject."),
					"datacontenttype": optional("The data's media type; unset is application/json."),
					"data":            optional("The event's data as JSON (jsonencode({...}))."),
					"extensions": schema.MapAttribute{
						Description: "Further CloudEvents attributes: lower-case letters and digits.",
						ElementType: types.StringType,
						Optional:    true,
					},
				},
			},
			"version": schema.Int64Attribute{
				Description: "The schedule's version, bumped on every change.",
				Computed:    true,
			},
		},
	}
}

func (m scheduleModel) toAPI(ctx context.Context, version int64) (sdk.Schedule, error) {
	s := sdk.Schedule{
		Name: m.Name.ValueString(), Bus: m.Bus.ValueString(), Cron: m.Cron.ValueString(), At: m.At.ValueString(),
		TimeZone: m.TimeZone.ValueString(), Version: version,
		Event: sdk.EventTemplate{Type: m.Event.Type.ValueString(), Source: m.Event.Source.ValueString(),
			Subject: m.Event.Subject.ValueString(), DataContentType: m.Event.DataContentType.ValueString()},
	}
	if d := m.Event.Data.ValueString(); d != "" {
		s.Event.Data = json.RawMessage(d)
	}
	if !m.Event.Extensions.IsNull() {
		s.Event.Extensions = map[string]string{}
		if diags := m.Event.Extensions.ElementsAs(ctx, &s.Event.Extensions, false); diags.HasError() {
			return s, fmt.Errorf("event.extensions: %v", diags)
		}
	}
	return s, nil
}

// scheduleFromAPI is s in Terraform; data keeps the configuration's
// spelling when it means the same JSON.
func scheduleFromAPI(ctx context.Context, s sdk.Schedule, configured scheduleModel) scheduleModel {
	m := scheduleModel{
		Name: types.StringValue(s.Name), Bus: types.StringValue(s.Bus), Cron: stringOrNull(s.Cron), At: stringOrNull(s.At),
		TimeZone: stringOrNull(s.TimeZone), Version: types.Int64Value(s.Version),
		Event: scheduleEventModel{Type: types.StringValue(s.Event.Type), Source: stringOrNull(s.Event.Source),
			Subject: stringOrNull(s.Event.Subject), DataContentType: stringOrNull(s.Event.DataContentType),
			Data: stringOrNull(string(s.Event.Data)), Extensions: types.MapNull(types.StringType)},
	}
	if c := configured.Event.Data; !c.IsNull() && !c.IsUnknown() && sameJSON(c.ValueString(), string(s.Event.Data)) {
		m.Event.Data = c
	}
	if len(s.Event.Extensions) > 0 {
		m.Event.Extensions, _ = types.MapValueFrom(ctx, types.StringType, s.Event.Extensions)
	}
	return m
}

func (r *scheduleResource) save(ctx context.Context, plan scheduleModel, version int64) (scheduleModel, error) {
	s, err := plan.toAPI(ctx, version)
	if err != nil {
		return scheduleModel{}, err
	}
	saved, err := r.client.PutSchedule(ctx, s)
	if err != nil {
		return scheduleModel{}, err
	}
	return scheduleFromAPI(ctx, saved, plan), nil
}

func (r *scheduleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan scheduleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	saved, err := r.save(ctx, plan, 0)
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.Plan.Schema, fmt.Sprintf("Creating schedule %q", plan.Name.ValueString()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, saved)...)
}

func (r *scheduleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state scheduleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.client.GetSchedule(ctx, state.Name.ValueString())
	if sdk.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.State.Schema, fmt.Sprintf("Reading schedule %q", state.Name.ValueString()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, scheduleFromAPI(ctx, s, state))...)
}

func (r *scheduleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state scheduleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	saved, err := r.save(ctx, plan, state.Version.ValueInt64())
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.Plan.Schema, fmt.Sprintf("Updating schedule %q", plan.Name.ValueString()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, saved)...)
}

func (r *scheduleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state scheduleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.DeleteSchedule(ctx, state.Name.ValueString()); err != nil && !sdk.IsNotFound(err) {
		addAPIError(ctx, &resp.Diagnostics, req.State.Schema, fmt.Sprintf("Deleting schedule %q", state.Name.ValueString()), err)
	}
}

// ImportState takes the schedule's name: terraform import eventbus_schedule.x nightly.
func (r *scheduleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}
