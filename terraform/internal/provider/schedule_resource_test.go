package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/eventbus-go/eventbus/sdk"
)

// A schedule resource creates, updates and destroys a schedule on the bus,
// and a bad cron fails naming the field.
func TestAccScheduleLifecycle(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	config := func(cron string) string {
		return providerConfig(endpoint) + fmt.Sprintf(`
resource "eventbus_schedule" "nightly" {
  name      = "nightly"
  cron      = %q
  time_zone = "Europe/Berlin"
  event = {
    type       = "report.due"
    data       = jsonencode({ scope = "all" })
    extensions = { tenant = "acme" }
  }
}
`, cron)
	}
	onBus := func(cron string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			s, err := client.GetSchedule(context.Background(), "nightly")
			if err != nil || s.Cron != cron || s.Bus != "default" || s.Event.Extensions["tenant"] != "acme" || s.Next == nil {
				return fmt.Errorf("the bus has the schedule %+v, %v; want cron %q on bus default with its event", s, err, cron)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := client.GetSchedule(context.Background(), "nightly"); !sdk.IsNotFound(err) {
				return fmt.Errorf("schedule after destroy: got %v, want 404", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config("0 2 * * *"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_schedule.nightly", "version", "1"),
					resource.TestCheckResourceAttr("eventbus_schedule.nightly", "bus", "default"),
					onBus("0 2 * * *"),
				),
			},
			{
				Config: config("30 3 * * *"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_schedule.nightly", "version", "2"),
					onBus("30 3 * * *"),
				),
			},
			{
				Config:      config("61 * * * *"),
				ExpectError: regexp.MustCompile(`cron`),
			},
		},
	})
}
