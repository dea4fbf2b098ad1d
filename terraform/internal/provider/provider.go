// Package provider is the eventbus Terraform provider: the resources
// eventbus_bus and eventbus_route and the data sources eventbus_bus and
// eventbus_routes, all speaking to a bus process through its Go client, the
// sdk package.
package provider

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/eventbus-go/eventbus/sdk"
)

// DefaultEndpoint is the bus's own default listen address.
const DefaultEndpoint = "http://127.0.0.1:8080"

// requestTimeout bounds one call to the bus, so that a bus that hangs fails
// the Terraform run instead of stalling it.
const requestTimeout = time.Minute

var _ provider.Provider = (*eventbusProvider)(nil)

type eventbusProvider struct {
	version string
}

// New returns a constructor of the provider, as providerserver expects.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &eventbusProvider{version: version} }
}

type providerModel struct {
	Endpoint types.String `tfsdk:"endpoint"`
	Token    types.String `tfsdk:"token"`
}

func (p *eventbusProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "eventbus"
	resp.Version = p.version
}

func (p *eventbusProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages the buses and routes of an eventbus process through its admin API.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				Description: "Base URL of the bus, such as http://127.0.0.1:8080. Defaults to the environment variable EVENTBUS_ENDPOINT, then to " + DefaultEndpoint + ".",
				Optional:    true,
			},
			"token": schema.StringAttribute{
				Description: "Bearer token sent as `Authorization: Bearer <token>` with every request. Defaults to the environment variable EVENTBUS_TOKEN; none is sent when both are empty.",
				Optional:    true,
				Sensitive:   true,
			},
		},
	}
}

func (p *eventbusProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.Endpoint.IsUnknown() || cfg.Token.IsUnknown() {
		resp.Diagnostics.AddError("Provider configuration not known yet",
			"endpoint and token must be known when Terraform plans: set them from variables or literals, not from attributes of resources created in the same run.")
		return
	}
	endpoint := cmp.Or(cfg.Endpoint.ValueString(), os.Getenv("EVENTBUS_ENDPOINT"), DefaultEndpoint)
	token := cmp.Or(cfg.Token.ValueString(), os.Getenv("EVENTBUS_TOKEN"))

	client, err := busClient(endpoint, token)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid bus endpoint", err.Error())
		return
	}
	resp.ResourceData = client
	resp.DataSourceData = client
}

func (p *eventbusProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{newBusResource, newRouteResource, newSchemaResource, newScheduleResource}
}

func (p *eventbusProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{newBusDataSource, newRoutesDataSource}
}

// busClient returns the client of the bus at endpoint that sends token (an
// API key or OIDC token) with every request; none when token is empty.
func busClient(endpoint, token string) (*sdk.Client, error) {
	return sdk.New(endpoint, sdk.Options{HTTPClient: &http.Client{Timeout: requestTimeout}, Token: token})
}

// clientFrom reads the client that Configure handed to a resource or data
// source. It returns nil, with no error, before the provider is configured:
// Terraform validates some configurations before it configures providers.
func clientFrom(data any, diags *diag.Diagnostics) *sdk.Client {
	if data == nil {
		return nil
	}
	client, ok := data.(*sdk.Client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *sdk.Client, got %T: this is a bug in the eventbus provider.", data))
	}
	return client
}
