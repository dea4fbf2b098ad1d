package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/eventbus-go/eventbus/sdk"
)

var (
	_ datasource.DataSource              = (*routesDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*routesDataSource)(nil)
)

type routesDataSource struct {
	client *sdk.Client
}

func newRoutesDataSource() datasource.DataSource { return &routesDataSource{} }

type routesModel struct {
	Bus    types.String `tfsdk:"bus"`
	Routes []routeModel `tfsdk:"routes"`
}

func (d *routesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_routes"
}

func (d *routesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *routesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computedString := func(description string) schema.StringAttribute {
		return schema.StringAttribute{Description: description, Computed: true}
	}
	computedDuration := func(description string) schema.StringAttribute {
		return schema.StringAttribute{Description: description, Computed: true, CustomType: durationType{}}
	}
	computedInt := func(description string) schema.Int64Attribute {
		return schema.Int64Attribute{Description: description, Computed: true}
	}
	resp.Schema = schema.Schema{
		Description: "Lists the routes of the bus process, sorted by name, with the bus's defaults filled in — all of them, or those of one bus.",
		Attributes: map[string]schema.Attribute{
			"bus": schema.StringAttribute{
				Description: "List only the routes of this bus, which must exist.",
				Optional:    true,
			},
			"routes": schema.ListNestedAttribute{
				Description: "The routes, each with the attributes of the resource eventbus_route.",
				Computed:    true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"name":    computedString("The route's name."),
						"bus":     computedString("The bus whose events the route selects."),
						"match":   schema.StringAttribute{Description: "The event pattern, as JSON; null when there is none.", Computed: true, CustomType: jsontypes.NormalizedType{}},
						"filters": schema.StringAttribute{Description: "The CloudEvents filters, as JSON; null when there are none.", Computed: true, CustomType: jsontypes.NormalizedType{}},
						"backend": computedString("The backend URL the route's events are stored on."),
						"target": schema.SingleNestedAttribute{
							Description: "Where the route delivers: one of http, plugin and topic is set.",
							Computed:    true,
							Attributes: map[string]schema.Attribute{
								"http": schema.SingleNestedAttribute{
									Description: "An HTTP endpoint.",
									Computed:    true,
									Attributes: map[string]schema.Attribute{
										"url":                 computedString("The endpoint's URL."),
										"timeout":             computedDuration("How long one delivery attempt may take."),
										"headers":             schema.MapAttribute{Description: "Headers added to every request.", Computed: true, Sensitive: true, ElementType: types.StringType},
										"signing_disabled":    schema.BoolAttribute{Description: "Whether deliveries go unsigned.", Computed: true},
										"signing_secret":      schema.StringAttribute{Description: "Always null: the bus never shows a signing secret after creating it.", Computed: true, Sensitive: true},
										"signing_secret_hint": computedString("Which secret signs, such as \"whsec_…x3Zq\"."),
										"auth": schema.SingleNestedAttribute{
											Description: "How the bus authenticates to the endpoint; its credentials are always null (write-only).",
											Computed:    true,
											Attributes: map[string]schema.Attribute{
												"basic": schema.SingleNestedAttribute{Computed: true, Attributes: map[string]schema.Attribute{
													"username": computedString("The user name."),
													"password": schema.StringAttribute{Computed: true, Sensitive: true, Description: "Always null."},
												}},
												"api_key": schema.SingleNestedAttribute{Computed: true, Attributes: map[string]schema.Attribute{
													"header": computedString("The header's name."),
													"value":  schema.StringAttribute{Computed: true, Sensitive: true, Description: "Always null."},
												}},
												"oauth2": schema.SingleNestedAttribute{Computed: true, Attributes: map[string]schema.Attribute{
													"token_url":     computedString("The token endpoint."),
													"client_id":     computedString("The client ID."),
													"client_secret": schema.StringAttribute{Computed: true, Sensitive: true, Description: "Always null."},
													"scopes":        schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "The scopes asked for."},
												}},
											},
										},
									},
								},
								"plugin": schema.SingleNestedAttribute{
									Description: "A handler plugin.",
									Computed:    true,
									Attributes: map[string]schema.Attribute{
										"name": computedString("The plugin's name in the bus's config."),
									},
								},
								"topic": schema.SingleNestedAttribute{
									Description: "A topic on a backend.",
									Computed:    true,
									Attributes: map[string]schema.Attribute{
										"url":    computedString("The backend's URL, or a ZeroMQ endpoint zmq+tcp://host:port."),
										"name":   computedString("The topic's name on that backend; null for a ZeroMQ target."),
										"zeromq": zeromqDataSourceAttribute(),
									},
								},
							},
						},
						"delivery": schema.SingleNestedAttribute{
							Description: "The delivery policy, defaults filled in.",
							Computed:    true,
							Attributes: map[string]schema.Attribute{
								"max_attempts": computedInt("Attempts before an event is dead-lettered."),
								"max_age":      computedDuration("How long after the first attempt retries stop; null for no limit."),
								"backoff": schema.SingleNestedAttribute{
									Description: "Bounds of the wait between attempts.",
									Computed:    true,
									Attributes: map[string]schema.Attribute{
										"initial": computedDuration("The first wait."),
										"max":     computedDuration("The longest wait."),
									},
								},
								"dead_letter":   schema.BoolAttribute{Description: "Whether exhausted events are kept on the dead-letter channel.", Computed: true},
								"client_errors": computedString("What a 4xx answer other than 429 means: dead-letter or retry."),
								"max_inflight":  computedInt("Deliveries in progress at once."),
								"ordering_key":  computedString("The attribute or data path that orders deliveries; null when unordered."),
								"rate":          computedString("The delivery pace; null for no cap."),
								"delay":         computedDuration("How long every event is held back before its first delivery."),
								"max_depth":     computedInt("Cap on the events stored and not yet finished; null for no cap."),
								"overflow":      computedString("What happens to an event past max_depth."),
								"block_timeout": computedDuration("With overflow block, how long ingress waits for room."),
								"batch": schema.SingleNestedAttribute{
									Description: "Batch delivery to the HTTP target; null when each event goes in its own request.",
									Computed:    true,
									Attributes: map[string]schema.Attribute{
										"max_events": computedInt("Events in one request at most."),
										"max_bytes":  computedInt("Request body in bytes at most."),
										"max_wait":   computedDuration("How long a batch waits for more events after its first."),
									},
								},
							},
						},
						"transform": schema.StringAttribute{Description: "The jq program that reshapes each event before delivery, if any.", Computed: true},
						"start":     computedString("Where the route started taking events when it was created: latest, earliest or a time; null for latest."),
						"paused":    schema.BoolAttribute{Description: "Whether delivery is paused.", Computed: true},
						"version":   computedInt("The route's version, bumped on every change."),
						"origin":    computedString("Where the route comes from: api or config."),
					},
				},
			},
		},
	}
}

func (d *routesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg routesModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	bus := cfg.Bus.ValueString()
	if bus != "" {
		// An empty list for a misspelt bus would hide the mistake.
		if _, err := d.client.GetBus(ctx, bus); err != nil {
			addAPIError(ctx, &resp.Diagnostics, req.Config.Schema, fmt.Sprintf("Reading bus %q", bus), err)
			return
		}
	}
	routes, err := d.client.ListRoutes(ctx)
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.Config.Schema, "Listing routes", err)
		return
	}
	cfg.Routes = []routeModel{}
	for _, r := range routes {
		if bus != "" && r.Bus != bus {
			continue
		}
		m, diags := routeFromAPI(ctx, r)
		resp.Diagnostics.Append(diags...)
		cfg.Routes = append(cfg.Routes, m)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, cfg)...)
}
