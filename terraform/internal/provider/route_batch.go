package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/eventbus-go/eventbus/sdk"
)

// The bus's defaults for delivery.batch (router.Batch in the bus).
const (
	defaultBatchEvents = 100
	defaultBatchBytes  = 1 << 20
	defaultBatchWait   = 10 * time.Millisecond
)

type batchModel struct {
	MaxEvents types.Int64   `tfsdk:"max_events"`
	MaxBytes  types.Int64   `tfsdk:"max_bytes"`
	MaxWait   durationValue `tfsdk:"max_wait"`
}

func (b *batchModel) toAPI() *sdk.Batch {
	if b == nil {
		return nil
	}
	return &sdk.Batch{MaxEvents: int(b.MaxEvents.ValueInt64()), MaxBytes: int(b.MaxBytes.ValueInt64()), MaxWait: b.MaxWait.ValueString()}
}

func batchFromAPI(b *sdk.Batch) *batchModel {
	if b == nil {
		return nil
	}
	return &batchModel{MaxEvents: int64OrNull(b.MaxEvents), MaxBytes: int64OrNull(b.MaxBytes), MaxWait: durationOf(b.MaxWait)}
}

// batchBlock is delivery's batch block: present, the route sends its HTTP
// target several events per request.
func batchBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		Description: "Send the HTTP target several events per request (application/cloudevents-batch+json); the bus checks the bounds. Without this block, one event per request.",
		Attributes: map[string]schema.Attribute{
			"max_events": schema.Int64Attribute{
				Description: fmt.Sprintf("Events in one request at most, 1 to 1000. Defaults to %d.", defaultBatchEvents),
				Optional:    true,
				Computed:    true,
				Default:     int64default.StaticInt64(defaultBatchEvents),
			},
			"max_bytes": schema.Int64Attribute{
				Description: fmt.Sprintf("Request body in bytes at most, 1024 to 16777216. Defaults to %d.", defaultBatchBytes),
				Optional:    true,
				Computed:    true,
				Default:     int64default.StaticInt64(defaultBatchBytes),
			},
			"max_wait": schema.StringAttribute{
				Description: "How long a batch waits for more events after its first, up to \"10s\". Defaults to \"" + defaultBatchWait.String() + "\".",
				Optional:    true,
				Computed:    true,
				CustomType:  durationType{},
				Default:     stringdefault.StaticString(defaultBatchWait.String()),
			},
		},
	}
}

// derivedInt64Default plans a default that depends on other arguments,
// as derivedDefault does for strings.
type derivedInt64Default struct {
	description string
	value       func(context.Context, tfsdk.Config) (types.Int64, diag.Diagnostics)
}

var _ planmodifier.Int64 = derivedInt64Default{}

func (m derivedInt64Default) Description(context.Context) string { return m.description }

func (m derivedInt64Default) MarkdownDescription(context.Context) string { return m.description }

func (m derivedInt64Default) PlanModifyInt64(ctx context.Context, req planmodifier.Int64Request, resp *planmodifier.Int64Response) {
	if !req.ConfigValue.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	v, diags := m.value(ctx, req.Config)
	resp.Diagnostics.Append(diags...)
	resp.PlanValue = v
}

// planMaxInflight: 16, or with a batch block twice its max_events (at
// least 16), so one batch fills while another is sent.
func planMaxInflight(ctx context.Context, cfg tfsdk.Config) (types.Int64, diag.Diagnostics) {
	var batch types.Object
	batchPath := path.Root("delivery").AtName("batch")
	diags := cfg.GetAttribute(ctx, batchPath, &batch)
	switch {
	case batch.IsUnknown() || diags.HasError():
		return types.Int64Unknown(), diags
	case batch.IsNull():
		return types.Int64Value(defaultMaxInflight), diags
	}
	var events types.Int64
	diags.Append(cfg.GetAttribute(ctx, batchPath.AtName("max_events"), &events)...)
	switch {
	case events.IsUnknown() || diags.HasError():
		return types.Int64Unknown(), diags
	case events.IsNull():
		return types.Int64Value(max(defaultMaxInflight, 2*defaultBatchEvents)), diags
	}
	return types.Int64Value(max(defaultMaxInflight, 2*events.ValueInt64())), diags
}
