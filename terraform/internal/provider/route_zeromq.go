package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/eventbus-go/eventbus/sdk"
)

// The bus's defaults and bounds for a ZeroMQ topic target (router's
// zeromq.go in the bus).
const (
	defaultZeroMQHWM        = 1000
	maxZeroMQHWM            = 1_000_000
	defaultZeroMQWhenFull   = "block"
	defaultZeroMQTopicFrame = "{type}"
	maxZeroMQTopicFrame     = 256
)

// zeromqModel tunes a topic target whose url is zmq+tcp://. The bus shows
// it as written, without its defaults, so null means the bus's default.
type zeromqModel struct {
	HWM        types.Int64  `tfsdk:"hwm"`
	WhenFull   types.String `tfsdk:"when_full"`
	TopicFrame types.String `tfsdk:"topic_frame"`
}

const (
	zeromqDescription           = "Tunes a ZeroMQ PUB target (url zmq+tcp://host:port, the bus's docs/backends/zeromq.md); only for a zmq+tcp:// url. Without this block, the bus's defaults."
	zeromqHWMDescription        = "Each subscriber's queue, in events."
	zeromqWhenFullDescription   = "What happens when a subscriber's queue is full: \"block\" makes the route's delivery wait, \"drop\" skips that subscriber (counted as subscriber_drops in the route's stats)."
	zeromqTopicFrameDescription = "The first frame of each message, which subscribers filter on by prefix; {type}, {source} and {subject} are replaced by the event's."
)

// zeromqBlock is the zeromq block of a route's topic target.
func zeromqBlock() rschema.SingleNestedBlock {
	return rschema.SingleNestedBlock{
		Description: zeromqDescription,
		Attributes: map[string]rschema.Attribute{
			"hwm": rschema.Int64Attribute{
				Description: fmt.Sprintf("%s 1 to %d. Unset, %d.", zeromqHWMDescription, maxZeroMQHWM, defaultZeroMQHWM),
				Optional:    true,
				Validators:  []validator.Int64{int64validator.Between(1, maxZeroMQHWM)},
			},
			"when_full": rschema.StringAttribute{
				Description: fmt.Sprintf("%s Unset, %q.", zeromqWhenFullDescription, defaultZeroMQWhenFull),
				Optional:    true,
				Validators:  []validator.String{stringvalidator.OneOf("block", "drop")},
			},
			"topic_frame": rschema.StringAttribute{
				Description: fmt.Sprintf("%s At most %d bytes. Unset, %q.", zeromqTopicFrameDescription, maxZeroMQTopicFrame, defaultZeroMQTopicFrame),
				Optional:    true,
				Validators:  []validator.String{stringvalidator.LengthBetween(1, maxZeroMQTopicFrame)},
			},
		},
	}
}

// zeromqDataSourceAttribute is the zeromq attribute of a topic target in
// the eventbus_routes data source.
func zeromqDataSourceAttribute() dsschema.Attribute {
	return dsschema.SingleNestedAttribute{
		Description: "How a ZeroMQ PUB target is tuned; null for the bus's defaults or a target on a backend.",
		Computed:    true,
		Attributes: map[string]dsschema.Attribute{
			"hwm":         dsschema.Int64Attribute{Description: zeromqHWMDescription + " Null: the default, " + fmt.Sprint(defaultZeroMQHWM) + ".", Computed: true},
			"when_full":   dsschema.StringAttribute{Description: zeromqWhenFullDescription + " Null: the default, \"" + defaultZeroMQWhenFull + "\".", Computed: true},
			"topic_frame": dsschema.StringAttribute{Description: zeromqTopicFrameDescription + " Null: the default, \"" + defaultZeroMQTopicFrame + "\".", Computed: true},
		},
	}
}

func (z *zeromqModel) toAPI() *sdk.ZeroMQTopic {
	if z == nil {
		return nil
	}
	return &sdk.ZeroMQTopic{HWM: int(z.HWM.ValueInt64()), WhenFull: z.WhenFull.ValueString(), TopicFrame: z.TopicFrame.ValueString()}
}

func zeromqFromAPI(z *sdk.ZeroMQTopic) *zeromqModel {
	if z == nil {
		return nil
	}
	return &zeromqModel{HWM: int64OrNull(z.HWM), WhenFull: stringOrNull(z.WhenFull), TopicFrame: stringOrNull(z.TopicFrame)}
}

// zeromqScheme is the url scheme of a topic target on a ZeroMQ PUB socket.
const zeromqScheme = "zmq+tcp://"

// topicFitsURL checks at plan time what the bus checks of a topic target:
// a backend's topic needs a name and takes no zeromq block; a zmq+tcp://
// target takes no name.
var topicFitsURL = objectCheck{
	description: "name is set for a backend's topic and left out for a zmq+tcp:// url; zeromq only for a zmq+tcp:// url",
	check: func(attrs map[string]attr.Value, at path.Path, diags *diag.Diagnostics) {
		url, ok := attrs["url"].(basetypes.StringValue)
		if !ok || url.IsNull() || url.IsUnknown() {
			return // requires("url") reports a missing url
		}
		name, zeromq := attrs["name"], attrs["zeromq"]
		if strings.HasPrefix(url.ValueString(), zeromqScheme) {
			if name != nil && !name.IsNull() {
				diags.AddAttributeError(at.AtName("name"), "Name on a ZeroMQ target",
					"A zmq+tcp:// target has no topic name: remove name, and set the first frame of its messages with zeromq { topic_frame = \"…\" }.")
			}
			return
		}
		if name != nil && name.IsNull() {
			diags.AddAttributeError(at.AtName("name"), "Missing topic name",
				"A topic on a backend needs name: the topic other systems read. Only a zmq+tcp:// url goes without one.")
		}
		if zeromq != nil && !zeromq.IsNull() {
			diags.AddAttributeError(at.AtName("zeromq"), "ZeroMQ settings on a backend's topic",
				"The zeromq block applies only to a zmq+tcp:// url: remove it, or make url zmq+tcp://host:port.")
		}
	},
}
