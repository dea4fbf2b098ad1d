package provider

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/internal/testnet"
	"github.com/eventbus-go/eventbus/sdk"
)

// A route whose topic target is a ZeroMQ PUB socket: Terraform creates it
// without a topic name, the bus binds the socket, and the zeromq settings
// read back and update in place.
func TestAccRouteZeroMQTarget(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	addr := testnet.FreeAddr(t)
	url := "zmq+tcp://" + addr

	route := func(zeromq string) string {
		return providerConfig(endpoint) + fmt.Sprintf(`
resource "eventbus_route" "ticker" {
  name  = "ticker"
  match = jsonencode({ type = [{ prefix = "price." }] })
  target {
    topic {
      url = %q
      %s
    }
  }
}

data "eventbus_routes" "all" {
  depends_on = [eventbus_route.ticker]
}
`, url, zeromq)
	}
	busTopic := func(want sdk.TopicTarget) resource.TestCheckFunc {
		return func(*terraform.State) error {
			r, err := client.GetRoute(context.Background(), "ticker")
			if err != nil {
				return err
			}
			if r.Target.Topic == nil || !reflect.DeepEqual(*r.Target.Topic, want) {
				return fmt.Errorf("route ticker's topic target on the bus is %+v; want %+v", r.Target.Topic, want)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkRoutesGone(client, "ticker"),
		Steps: []resource.TestStep{
			{
				Config: route(`zeromq {
        hwm         = 50
        when_full   = "drop"
        topic_frame = "{source}/{type}"
      }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					busTopic(sdk.TopicTarget{URL: url, ZeroMQ: &sdk.ZeroMQTopic{HWM: 50, WhenFull: "drop", TopicFrame: "{source}/{type}"}}),
					resource.TestCheckResourceAttr("eventbus_route.ticker", "target.topic.url", url),
					resource.TestCheckNoResourceAttr("eventbus_route.ticker", "target.topic.name"),
					resource.TestCheckResourceAttr("eventbus_route.ticker", "target.topic.zeromq.hwm", "50"),
					resource.TestCheckResourceAttr("eventbus_route.ticker", "target.topic.zeromq.when_full", "drop"),
					resource.TestCheckResourceAttr("eventbus_route.ticker", "target.topic.zeromq.topic_frame", "{source}/{type}"),
					resource.TestCheckResourceAttr("data.eventbus_routes.all", "routes.0.target.topic.zeromq.hwm", "50"),
					resource.TestCheckNoResourceAttr("data.eventbus_routes.all", "routes.0.target.topic.name"),
					func(*terraform.State) error {
						// Subscribers connect to the address the url names.
						listening := testkit.Poll(30*time.Second, testkit.Interval, func() bool {
							conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
							if err != nil {
								return false
							}
							conn.Close()
							return true
						})
						if !listening {
							return fmt.Errorf("the bus did not listen on %s for the route's ZeroMQ subscribers within 30s", addr)
						}
						return nil
					},
				),
			},
			{
				Config: route(`zeromq { hwm = 100 }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("eventbus_route.ticker", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					busTopic(sdk.TopicTarget{URL: url, ZeroMQ: &sdk.ZeroMQTopic{HWM: 100}}),
					resource.TestCheckNoResourceAttr("eventbus_route.ticker", "target.topic.zeromq.when_full"),
				),
			},
			{
				ResourceName:                         "eventbus_route.ticker",
				ImportState:                          true,
				ImportStateId:                        "ticker",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
			{
				// Without the block, the bus's defaults.
				Config: route(""),
				Check: resource.ComposeAggregateTestCheckFunc(
					busTopic(sdk.TopicTarget{URL: url}),
					resource.TestCheckNoResourceAttr("eventbus_route.ticker", "target.topic.zeromq.hwm"),
				),
			},
		},
	})
}

// A topic target that does not fit its url is refused at plan time.
func TestAccRouteTopicTargetMistakes(t *testing.T) {
	requireAcceptance(t)
	route := func(topic string) string {
		return providerConfig("http://127.0.0.1:9") + `
resource "eventbus_route" "ticker" {
  name = "ticker"
  target {
    topic {
` + topic + `
    }
  }
}
`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{
			{
				Config:      route(`url = "zmq+tcp://127.0.0.1:5556"` + "\n" + `name = "prices"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`A\s+zmq\+tcp://\s+target\s+has\s+no\s+topic\s+name`),
			},
			{
				Config:      route(`url = "mem://"` + "\n" + `name = "prices"` + "\n" + `zeromq { hwm = 10 }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`The\s+zeromq\s+block\s+applies\s+only\s+to\s+a\s+zmq\+tcp://\s+url`),
			},
			{
				Config:      route(`url = "zmq+tcp://127.0.0.1:5556"` + "\n" + `zeromq { when_full = "wait" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`when_full\s+value\s+must\s+be\s+one\s+of`),
			},
		},
	})
}
