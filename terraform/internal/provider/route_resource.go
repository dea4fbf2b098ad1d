package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/eventbus-go/eventbus/sdk"
)

// The bus's defaults for a route (router.Route.WithDefaults in the bus).
// The provider plans them, so a plan shows what the bus will run and
// leaving an attribute out of the configuration returns it to its default.
const (
	defaultBus            = "default"
	defaultMaxAttempts    = 10
	defaultBackoffInitial = 200 * time.Millisecond
	defaultBackoffMax     = time.Minute
	defaultMaxInflight    = 16
	defaultClientErrors   = "dead-letter"
	defaultHTTPTimeout    = 10 * time.Second
	defaultBlockTimeout   = 5 * time.Second
	defaultOverflow       = "reject"
)

var (
	_ resource.Resource                = (*routeResource)(nil)
	_ resource.ResourceWithConfigure   = (*routeResource)(nil)
	_ resource.ResourceWithImportState = (*routeResource)(nil)
)

type routeResource struct {
	client *sdk.Client
}

func newRouteResource() resource.Resource { return &routeResource{} }

func (r *routeResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_route"
}

func (r *routeResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *routeResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A route: the events of one bus that it selects are stored on its backend and delivered to its target under its delivery policy.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Description:   "The route's name: 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit, not ending in .dlq. Changing it replaces the route.",
				Required:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"bus": schema.StringAttribute{
				Description: "The bus whose events the route selects. It must exist. Defaults to \"" + defaultBus + "\".",
				Optional:    true,
				Computed:    true,
				Default:     stringdefault.StaticString(defaultBus),
			},
			"match": schema.StringAttribute{
				Description: "An EventBridge-style event pattern, as JSON (use jsonencode). Events must match it and the filters; none selects every event. Formatting differences cause no diff.",
				Optional:    true,
				CustomType:  jsontypes.NormalizedType{},
			},
			"filters": schema.StringAttribute{
				Description: "A JSON list of CloudEvents Subscriptions API filters (exact, prefix, suffix, all, any, not, sql), ANDed with match (use jsonencode).",
				Optional:    true,
				CustomType:  jsontypes.NormalizedType{},
			},
			"backend": schema.StringAttribute{
				Description: "The backend URL the route's events are stored on, such as mem://, rabbit://host:5672/ or kafka://host:9092. Defaults to the bus's backend, then to the bus process's default backend. A route cannot move to another backend: changing it replaces the route, and the events waiting in its channel are lost.",
				Optional:    true,
				Computed:    true,
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(),
					stringplanmodifier.RequiresReplace(),
				},
			},
			"transform": schema.StringAttribute{
				Description: "A jq program that reshapes each event before delivery: its input is the event in CloudEvents JSON, its output the event to deliver. The bus checks it when the route is saved and names the line and column of a mistake.",
				Optional:    true,
			},
			"start": schema.StringAttribute{
				Description: "Where the route starts taking events when it is created: \"latest\" (the default: only events accepted from then on), \"earliest\" (every event the bus's archive holds, replayed, then new ones) or an RFC 3339 time. The bus reads it once, at creation; changing it later replays nothing (use a replay for that). Needs a bus whose backend keeps an archive (nats+embedded://, the default of eventbus serve, or nats://).",
				Optional:    true,
			},
			"paused": schema.BoolAttribute{
				Description: "Keep matching and storing events but deliver none, for example while the target is down for maintenance. Defaults to false.",
				Optional:    true,
				Computed:    true,
				Default:     booldefault.StaticBool(false),
			},
			"version": schema.Int64Attribute{
				Description: "The route's version, bumped by the bus on every change. Updates send it back, so the bus refuses to overwrite a change made since Terraform last read the route.",
				Computed:    true,
			},
			"origin": schema.StringAttribute{
				Description:   "Where the route comes from: \"api\", or \"config\" for routes of the bus's config file, which are read-only.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
		Blocks: map[string]schema.Block{
			"target": schema.SingleNestedBlock{
				Description: "Where the route delivers: required, with exactly one of the blocks http, plugin and topic.",
				Validators:  []validator.Object{objectvalidator.IsRequired()},
				Blocks: map[string]schema.Block{
					"http": schema.SingleNestedBlock{
						Description: "An HTTP endpoint that receives each event as a CloudEvents request in binary mode; a 2xx answer acknowledges it.",
						Validators:  []validator.Object{requires("url"), topicFitsURL},
						Attributes: map[string]schema.Attribute{
							"url": schema.StringAttribute{
								Description: "The endpoint's absolute http(s) URL. Required.",
								Optional:    true,
							},
							"timeout": schema.StringAttribute{
								Description: "How long one delivery attempt may take, such as \"10s\". Defaults to \"" + defaultHTTPTimeout.String() + "\".",
								Optional:    true,
								Computed:    true,
								CustomType:  durationType{},
								Default:     stringdefault.StaticString(defaultHTTPTimeout.String()),
							},
							"headers": schema.MapAttribute{
								Description: "Headers added to every request, such as an Authorization header.",
								Optional:    true,
								Sensitive:   true,
								ElementType: types.StringType,
							},
							"signing_disabled": schema.BoolAttribute{
								Description: "Turn off the Standard Webhooks signature (webhook-id, webhook-timestamp, webhook-signature) on deliveries. Defaults to false: signed.",
								Optional:    true,
								Computed:    true,
								Default:     booldefault.StaticBool(false),
							},
							"signing_secret": schema.StringAttribute{
								Description:   "The signing secret, \"whsec_\" + base64 of 24-64 bytes. Left out, the bus generates one when it creates the route, and this attribute holds it (the bus shows it only once). Write-only on the bus: Terraform keeps it in its state and cannot see a change made outside Terraform. Changing it keeps the old secret signing too for a day.",
								Optional:      true,
								Computed:      true,
								Sensitive:     true,
								PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
							},
							"signing_secret_hint": schema.StringAttribute{
								Description: "Which secret signs, as the bus shows it, such as \"whsec_…x3Zq\".",
								Computed:    true,
							},
							"auth": schema.SingleNestedAttribute{
								Description: "How the bus authenticates to the endpoint: set one of basic, api_key and oauth2. The password, value and client_secret are write-only on the bus: Terraform keeps what you wrote.",
								Optional:    true,
								Attributes: map[string]schema.Attribute{
									"basic": schema.SingleNestedAttribute{
										Description: "An Authorization: Basic header.",
										Optional:    true,
										Attributes: map[string]schema.Attribute{
											"username": schema.StringAttribute{Required: true, Description: "The user name."},
											"password": schema.StringAttribute{Required: true, Sensitive: true, Description: "The password."},
										},
									},
									"api_key": schema.SingleNestedAttribute{
										Description: "One header with a fixed value.",
										Optional:    true,
										Attributes: map[string]schema.Attribute{
											"header": schema.StringAttribute{Required: true, Description: "The header's name, such as X-Api-Key."},
											"value":  schema.StringAttribute{Required: true, Sensitive: true, Description: "The header's value."},
										},
									},
									"oauth2": schema.SingleNestedAttribute{
										Description: "A bearer token from the OAuth 2.0 client credentials grant, cached by the bus until it expires.",
										Optional:    true,
										Attributes: map[string]schema.Attribute{
											"token_url":     schema.StringAttribute{Required: true, Description: "The token endpoint."},
											"client_id":     schema.StringAttribute{Required: true, Description: "The client ID."},
											"client_secret": schema.StringAttribute{Required: true, Sensitive: true, Description: "The client secret."},
											"scopes":        schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "The scopes to ask for."},
										},
									},
								},
							},
						},
					},
					"plugin": schema.SingleNestedBlock{
						Description: "A handler plugin that the bus's config file declares under plugins.",
						Validators:  []validator.Object{requires("name")},
						Attributes: map[string]schema.Attribute{
							"name": schema.StringAttribute{
								Description: "The plugin's name in the bus's config. Required.",
								Optional:    true,
							},
						},
					},
					"topic": schema.SingleNestedBlock{
						Description: "A topic on a backend that other systems read: an exchange on RabbitMQ, a topic on Kafka, a queue on SQS; or, with a zmq+tcp:// url, a ZeroMQ PUB socket.",
						Validators:  []validator.Object{requires("url"), topicFitsURL},
						Attributes: map[string]schema.Attribute{
							"url": schema.StringAttribute{
								Description: "The backend's URL, as for backend; or zmq+tcp://host:port, where the bus binds a ZeroMQ PUB socket (zmq+tcp://host:port?connect=true connects to a peer there). Required.",
								Optional:    true,
							},
							"name": schema.StringAttribute{
								Description: "The topic's name on that backend: required for a backend, left out for a zmq+tcp:// url, whose topic frame is zeromq's topic_frame.",
								Optional:    true,
							},
						},
						Blocks: map[string]schema.Block{
							"zeromq": zeromqBlock(),
						},
					},
				},
			},
			"delivery": schema.SingleNestedBlock{
				Description: "The delivery policy. Without this block the route has the bus's defaults; in it, the arguments left out take the bus's defaults, which show in plans.",
				Attributes: map[string]schema.Attribute{
					"max_attempts": schema.Int64Attribute{
						Description: fmt.Sprintf("Attempts before an event is dead-lettered. Defaults to %d.", defaultMaxAttempts),
						Optional:    true,
						Computed:    true,
						Default:     int64default.StaticInt64(defaultMaxAttempts),
					},
					"max_age": schema.StringAttribute{
						Description: "Stop retrying this long after the first attempt, such as \"24h\". No limit by default.",
						Optional:    true,
						CustomType:  durationType{},
					},
					"dead_letter": schema.BoolAttribute{
						Description: "Keep exhausted events on the route's dead-letter channel (true) or drop them (false). Defaults to true.",
						Optional:    true,
						Computed:    true,
						Default:     booldefault.StaticBool(true),
					},
					"client_errors": schema.StringAttribute{
						Description: "What a 4xx answer other than 429 means: \"dead-letter\" at once or \"retry\" like a 5xx. Defaults to \"" + defaultClientErrors + "\".",
						Optional:    true,
						Computed:    true,
						Default:     stringdefault.StaticString(defaultClientErrors),
					},
					"max_inflight": schema.Int64Attribute{
						Description: fmt.Sprintf("Deliveries in progress at once. Defaults to %d, or with a batch block to twice its max_events (at least %d).", defaultMaxInflight, defaultMaxInflight),
						Optional:    true,
						Computed:    true,
						PlanModifiers: []planmodifier.Int64{derivedInt64Default{
							description: "defaults to 16, or twice batch.max_events",
							value:       planMaxInflight,
						}},
					},
					"ordering_key": schema.StringAttribute{
						Description: "An attribute (\"subject\") or a data path (\"data.customer.id\"): events with the same key are delivered one at a time, in order.",
						Optional:    true,
					},
					"rate": schema.StringAttribute{
						Description: "Delivery pace: N/s, N/m or N/h, such as \"200/s\". No cap by default.",
						Optional:    true,
					},
					"delay": schema.StringAttribute{
						Description: "Hold every event back this long before its first delivery, such as \"10s\".",
						Optional:    true,
						CustomType:  durationType{},
					},
					"max_depth": schema.Int64Attribute{
						Description: "Cap on the events stored and not yet finished. No cap by default.",
						Optional:    true,
					},
					"overflow": schema.StringAttribute{
						Description: "What happens to an event past max_depth: \"reject\" (429), \"block\", \"drop-oldest\" or \"divert:<route>\" (a route of the same bus). Defaults to \"" + defaultOverflow + "\" when max_depth is set.",
						Optional:    true,
						Computed:    true,
						PlanModifiers: []planmodifier.String{derivedDefault{
							description: "defaults to reject when max_depth is set",
							value:       planOverflow,
						}},
					},
					"block_timeout": schema.StringAttribute{
						Description: "With overflow \"block\", how long ingress waits for room. Defaults to \"" + defaultBlockTimeout.String() + "\" then.",
						Optional:    true,
						Computed:    true,
						CustomType:  durationType{},
						PlanModifiers: []planmodifier.String{derivedDefault{
							description: "defaults to 5s when overflow is block",
							value:       planBlockTimeout,
						}},
					},
				},
				Blocks: map[string]schema.Block{
					"batch": batchBlock(),
					"backoff": schema.SingleNestedBlock{
						Description: "Bounds of the exponential wait, with jitter, between attempts. Without this block they are the bus's defaults.",
						Attributes: map[string]schema.Attribute{
							"initial": schema.StringAttribute{
								Description: "The first wait. Defaults to \"" + defaultBackoffInitial.String() + "\".",
								Optional:    true,
								Computed:    true,
								CustomType:  durationType{},
								Default:     stringdefault.StaticString(defaultBackoffInitial.String()),
							},
							"max": schema.StringAttribute{
								Description: "The longest wait. Defaults to \"" + defaultBackoffMax.String() + "\", or to initial when that is longer.",
								Optional:    true,
								Computed:    true,
								CustomType:  durationType{},
								PlanModifiers: []planmodifier.String{derivedDefault{
									description: "defaults to the larger of 1m0s and backoff.initial",
									value:       planBackoffMax,
								}},
							},
						},
					},
				},
			},
		},
	}
}

// requires makes the named arguments of a block required wherever the
// block is written. Marked Required in the schema, they would be required
// even where the block is left out.
func requires(names ...string) validator.Object {
	exprs := make([]path.Expression, len(names))
	for i, name := range names {
		exprs[i] = path.MatchRelative().AtName(name)
	}
	return objectvalidator.AlsoRequires(exprs...)
}

func (r *routeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan routeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	route, diags := plan.toAPI(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	summary := fmt.Sprintf("Creating route %q", route.Name)
	saved, err := r.client.CreateRoute(ctx, route)
	if sdk.IsConflict(err) {
		// Most often the route exists, made outside this configuration.
		if existing, getErr := r.client.GetRoute(ctx, route.Name); getErr == nil {
			resp.Diagnostics.AddError(summary, alreadyExists("route", existing.Name, existing.Origin))
			return
		}
	}
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.Plan.Schema, summary, err)
		return
	}
	setRouteState(ctx, saved, plan, &resp.State, &resp.Diagnostics)
}

func (r *routeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state routeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	route, err := r.client.GetRoute(ctx, state.Name.ValueString())
	if sdk.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.State.Schema, fmt.Sprintf("Reading route %q", state.Name.ValueString()), err)
		return
	}
	setRouteState(ctx, route, state, &resp.State, &resp.Diagnostics)
}

func (r *routeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state routeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	route, diags := plan.toAPI(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The bus refuses the write if the route changed since Terraform read it.
	route.Version = state.Version.ValueInt64()
	saved, err := r.client.PutRoute(ctx, route)
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.Plan.Schema, fmt.Sprintf("Updating route %q", route.Name), err)
		return
	}
	setRouteState(ctx, saved, plan, &resp.State, &resp.Diagnostics)
}

// setRouteState keeps the route the bus answered as the new state. prior
// is the plan, or the state before a refresh: the blocks it leaves out
// stay out while the bus has its defaults for them (see
// leaveOutDefaultBlocks).
func setRouteState(ctx context.Context, route sdk.Route, prior routeModel, state *tfsdk.State, diags *diag.Diagnostics) {
	m, d := routeFromAPI(ctx, route)
	diags.Append(d...)
	m.leaveOutDefaultBlocks(prior, route)
	m.keepWriteOnly(prior)
	diags.Append(state.Set(ctx, m)...)
}

func (r *routeResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state routeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.client.DeleteRoute(ctx, state.Name.ValueString())
	if err != nil && !sdk.IsNotFound(err) {
		addAPIError(ctx, &resp.Diagnostics, req.State.Schema, fmt.Sprintf("Deleting route %q", state.Name.ValueString()), err)
	}
}

// ImportState takes the route's name: terraform import eventbus_route.x signup-mail.
func (r *routeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}

// derivedDefault plans the value the bus gives an attribute that the
// configuration leaves out, when that value depends on other attributes.
type derivedDefault struct {
	description string
	value       func(context.Context, tfsdk.Config) (types.String, diag.Diagnostics)
}

var _ planmodifier.String = derivedDefault{}

func (m derivedDefault) Description(context.Context) string { return m.description }

func (m derivedDefault) MarkdownDescription(context.Context) string { return m.description }

func (m derivedDefault) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if !req.ConfigValue.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	v, diags := m.value(ctx, req.Config)
	resp.Diagnostics.Append(diags...)
	resp.PlanValue = v
}

// planBackoffMax: the larger of one minute and backoff.initial.
func planBackoffMax(ctx context.Context, cfg tfsdk.Config) (types.String, diag.Diagnostics) {
	var initial durationValue
	diags := cfg.GetAttribute(ctx, path.Root("delivery").AtName("backoff").AtName("initial"), &initial)
	if initial.IsUnknown() || diags.HasError() {
		return types.StringUnknown(), diags
	}
	d := defaultBackoffInitial
	if !initial.IsNull() {
		parsed, err := time.ParseDuration(initial.ValueString())
		if err != nil { // reported by the attribute's validation
			return types.StringUnknown(), diags
		}
		d = parsed
	}
	return types.StringValue(max(defaultBackoffMax, d).String()), diags
}

// planOverflow: reject when max_depth is set, else none.
func planOverflow(ctx context.Context, cfg tfsdk.Config) (types.String, diag.Diagnostics) {
	var maxDepth types.Int64
	diags := cfg.GetAttribute(ctx, path.Root("delivery").AtName("max_depth"), &maxDepth)
	switch {
	case maxDepth.IsUnknown() || diags.HasError():
		return types.StringUnknown(), diags
	case maxDepth.ValueInt64() > 0:
		return types.StringValue(defaultOverflow), diags
	}
	return types.StringNull(), diags
}

// planBlockTimeout: five seconds when overflow is block, else none.
func planBlockTimeout(ctx context.Context, cfg tfsdk.Config) (types.String, diag.Diagnostics) {
	var overflow types.String
	diags := cfg.GetAttribute(ctx, path.Root("delivery").AtName("overflow"), &overflow)
	switch {
	case overflow.IsUnknown() || diags.HasError():
		return types.StringUnknown(), diags
	case overflow.ValueString() == "block":
		return types.StringValue(defaultBlockTimeout.String()), diags
	}
	return types.StringNull(), diags
}
