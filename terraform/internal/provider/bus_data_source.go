package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"

	"github.com/eventbus-go/eventbus/sdk"
)

var (
	_ datasource.DataSource              = (*busDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*busDataSource)(nil)
)

type busDataSource struct {
	client *sdk.Client
}

func newBusDataSource() datasource.DataSource { return &busDataSource{} }

func (d *busDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_bus"
}

func (d *busDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *busDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Reads one bus by name, for example one that the bus's config file defines.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				Description: "The bus's name.",
				Required:    true,
			},
			"backend": schema.StringAttribute{
				Description: "The backend URL of the bus's routes that name none; null when they use the bus process's default backend.",
				Computed:    true,
			},
			"acl":     aclDataSourceAttribute(),
			"archive": archiveDataSourceAttribute(),
			"schemas": schema.StringAttribute{
				Description: "The bus's schema mode: \"enforce\", \"warn\", \"off\", or null (off).",
				Computed:    true,
			},
			"version": schema.Int64Attribute{
				Description: "The bus's version, bumped on every change.",
				Computed:    true,
			},
			"origin": schema.StringAttribute{
				Description: "Where the bus comes from: \"api\", \"config\" (the bus's config file), or \"builtin\" (the default bus, not configured).",
				Computed:    true,
			},
		},
	}
}

func (d *busDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg busModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	bus, err := d.client.GetBus(ctx, cfg.Name.ValueString())
	if err != nil {
		addAPIError(ctx, &resp.Diagnostics, req.Config.Schema, fmt.Sprintf("Reading bus %q", cfg.Name.ValueString()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, busFromAPI(bus))...)
}
