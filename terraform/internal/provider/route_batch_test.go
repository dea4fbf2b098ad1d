package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/eventbus-go/eventbus/sdk"
)

// A batch block turns batch delivery on with the bus's defaults for what
// it leaves out, max_inflight following it; written out, its arguments
// reach the bus under the same names; removed, the route sends one event
// per request again. The bus's refusal of a bad bound reaches the user.
func TestAccRouteBatchBlock(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	route := func(batch string) string {
		return providerConfig(endpoint) + `
resource "eventbus_route" "bulk" {
  name = "bulk"
  target {
    http { url = "http://127.0.0.1:9/bulk" }
  }
  delivery {
    max_attempts = 5
` + batch + `
  }
}
`
	}
	batchOnBus := func(want *sdk.Batch, inflight int) resource.TestCheckFunc {
		return checkRouteOnBus(client, "bulk", func(r sdk.Route) error {
			got := r.Delivery.Batch
			if (got == nil) != (want == nil) || (got != nil && *got != *want) || r.Delivery.MaxInflight != inflight {
				return fmt.Errorf("batch %+v, max_inflight %d on the bus: want %+v and %d", got, r.Delivery.MaxInflight, want, inflight)
			}
			return nil
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkRoutesGone(client, "bulk"),
		Steps: []resource.TestStep{
			{
				Config: route(`    batch {}`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_route.bulk", "delivery.batch.max_events", "100"),
					resource.TestCheckResourceAttr("eventbus_route.bulk", "delivery.batch.max_bytes", "1048576"),
					resource.TestCheckResourceAttr("eventbus_route.bulk", "delivery.batch.max_wait", "10ms"),
					resource.TestCheckResourceAttr("eventbus_route.bulk", "delivery.max_inflight", "200"),
					batchOnBus(&sdk.Batch{MaxEvents: 100, MaxBytes: 1048576, MaxWait: "10ms"}, 200),
				),
			},
			{
				Config: route(`    batch {
      max_events = 20
      max_bytes  = 65536
      max_wait   = "50ms"
    }`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_route.bulk", "delivery.max_inflight", "40"),
					batchOnBus(&sdk.Batch{MaxEvents: 20, MaxBytes: 65536, MaxWait: "50ms"}, 40),
				),
			},
			{
				ResourceName:                         "eventbus_route.bulk",
				ImportState:                          true,
				ImportStateId:                        "bulk",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				ImportStateVerifyIgnore:              []string{"target.http.signing_secret"},
			},
			{
				Config: route(``),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr("eventbus_route.bulk", "delivery.batch.max_events"),
					resource.TestCheckResourceAttr("eventbus_route.bulk", "delivery.max_inflight", "16"),
					batchOnBus(nil, 16),
				),
			},
			{
				Config:      route(`    batch { max_events = 5000 }`),
				ExpectError: regexp.MustCompile(`delivery\.batch\.max_events`),
			},
		},
	})
}
