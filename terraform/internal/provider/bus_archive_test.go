package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/eventbus-go/eventbus/sdk"
)

// A bus's archive set in Terraform reaches the bus, reads back, and stays
// as it is when another attribute of the bus changes: an update sends the
// whole bus, so without the archive it would reset it to the defaults.
func TestAccBusArchive(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)

	config := func(schemas, ordersArchive string) string {
		return providerConfig(endpoint) + fmt.Sprintf(`
resource "eventbus_bus" "audit" {
  name    = "audit"
  schemas = %[1]s
  archive = { off = true }
}

resource "eventbus_bus" "orders" {
  name    = "orders"
  schemas = %[1]s
  %[2]s
}

data "eventbus_bus" "orders" {
  name = eventbus_bus.orders.name
}
`, schemas, ordersArchive)
	}
	const limits = `archive = { max_age = "72h", max_bytes = 1048576 }`
	busArchive := func(name string, want sdk.Archive) resource.TestCheckFunc {
		return func(*terraform.State) error {
			bus, err := client.GetBus(context.Background(), name)
			if err != nil {
				return err
			}
			if bus.Archive == nil || *bus.Archive != want {
				return fmt.Errorf("bus %s has archive %+v; want %+v, as the configuration says", name, bus.Archive, want)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{
			{
				Config: config("null", limits),
				Check: resource.ComposeAggregateTestCheckFunc(
					busArchive("audit", sdk.Archive{Off: true}),
					busArchive("orders", sdk.Archive{MaxAge: "72h0m0s", MaxBytes: 1048576}),
					resource.TestCheckResourceAttr("eventbus_bus.audit", "archive.off", "true"),
					resource.TestCheckNoResourceAttr("eventbus_bus.audit", "archive.max_age"),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "archive.off", "false"),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "archive.max_age", "72h"),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "archive.max_bytes", "1048576"),
					resource.TestCheckResourceAttr("data.eventbus_bus.orders", "archive.max_age", "72h0m0s"),
					resource.TestCheckResourceAttr("data.eventbus_bus.orders", "archive.max_bytes", "1048576"),
				),
			},
			{
				// Only schemas changes: both buses are updated in place and
				// keep their archives.
				Config: config(`"warn"`, limits),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("eventbus_bus.audit", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("eventbus_bus.orders", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					busArchive("audit", sdk.Archive{Off: true}),
					busArchive("orders", sdk.Archive{MaxAge: "72h0m0s", MaxBytes: 1048576}),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "version", "2"),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "schemas", "warn"),
				),
			},
			{
				ResourceName:                         "eventbus_bus.orders",
				ImportState:                          true,
				ImportStateId:                        "orders",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				// Imported, max_age reads as the bus writes it, "72h0m0s",
				// which equals the configuration's "72h" (no diff).
				ImportStateVerifyIgnore: []string{"archive.max_age"},
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 || states[0].Attributes["archive.max_age"] != "72h0m0s" {
						return fmt.Errorf("imported bus orders: want archive.max_age 72h0m0s, got %v", states)
					}
					return nil
				},
			},
			{
				// Left out of the configuration, the archive goes back to
				// the bus's defaults.
				Config: config(`"warn"`, ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr("eventbus_bus.orders", "archive.max_age"),
					func(*terraform.State) error {
						bus, err := client.GetBus(context.Background(), "orders")
						if err != nil {
							return err
						}
						if bus.Archive != nil {
							return fmt.Errorf("bus orders has archive %+v; want none (the bus's defaults) once the configuration leaves it out", bus.Archive)
						}
						return nil
					},
				),
			},
		},
	})
}

// Mistakes in archive are refused at plan time, naming the attribute.
func TestAccBusArchiveMistakes(t *testing.T) {
	requireAcceptance(t)
	bus := func(archive string) string {
		return providerConfig("http://127.0.0.1:9") + `
resource "eventbus_bus" "orders" {
  name    = "orders"
  archive = ` + archive + `
}
`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{
			{
				Config:      bus(`{ off = true, max_age = "72h" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`An\s+archive\s+that\s+is\s+off\s+keeps\s+nothing:\s+remove\s+max_age`),
			},
			{
				Config:      bus(`{ max_age = "3 days" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`"3\s+days"\s+is\s+not\s+a\s+duration`),
			},
			{
				Config:      bus(`{ max_bytes = 0 }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`archive\.max_bytes\s+value\s+must\s+be\s+at\s+least\s+1`),
			},
		},
	})
}
