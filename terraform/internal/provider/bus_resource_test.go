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

func TestAccBusLifecycle(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)

	// The route names the bus through the resource, so Terraform creates
	// the bus first and destroys it last: the bus refuses to delete a bus
	// that still has routes.
	config := func(backend string) string {
		return providerConfig(endpoint) + fmt.Sprintf(`
resource "eventbus_bus" "orders" {
  name    = "orders"
  backend = %s
  acl = {
    emit   = [{ groups = ["shop"] }, { groups = ["partners"], types = ["order.*"] }]
    manage = ["admins"]
  }
}

resource "eventbus_route" "inventory" {
  name   = "inventory"
  bus    = eventbus_bus.orders.name
  target {
    http { url = "http://127.0.0.1:9/inventory" }
  }
}
`, backend)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			checkRoutesGone(client, "inventory"),
			func(*terraform.State) error {
				if _, err := client.GetBus(context.Background(), "orders"); !sdk.IsNotFound(err) {
					return fmt.Errorf("bus orders after destroy: got %v, want 404", err)
				}
				return nil
			},
		),
		Steps: []resource.TestStep{
			{
				Config: config("null"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr("eventbus_bus.orders", "backend"),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "version", "1"),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "origin", "api"),
					resource.TestCheckResourceAttr("eventbus_route.inventory", "bus", "orders"),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "acl.emit.0.groups.0", "shop"),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "acl.emit.1.types.0", "order.*"),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "acl.manage.0", "admins"),
					resource.TestCheckNoResourceAttr("eventbus_bus.orders", "acl.read"),
					func(*terraform.State) error {
						bus, err := client.GetBus(context.Background(), "orders")
						if err != nil {
							return err
						}
						if bus.ACL == nil || len(bus.ACL.Emit) != 2 || bus.ACL.Emit[1].Types[0] != "order.*" {
							return fmt.Errorf("the bus's ACL is %+v; want the grants of the configuration", bus.ACL)
						}
						return nil
					},
				),
			},
			{
				Config: config(`"mem://"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("eventbus_bus.orders", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("eventbus_route.inventory", plancheck.ResourceActionNoop),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_bus.orders", "backend", "mem://"),
					resource.TestCheckResourceAttr("eventbus_bus.orders", "version", "2"),
				),
			},
			{
				ResourceName:                         "eventbus_bus.orders",
				ImportState:                          true,
				ImportStateId:                        "orders",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
		},
	})
}

func TestAccBusDefaultIsAdoptedAndResetOnDestroy(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy: func(*terraform.State) error {
			b, err := client.GetBus(context.Background(), "default")
			if err != nil {
				return fmt.Errorf("the default bus must survive destroy: %w", err)
			}
			if b.Backend != "" || b.Origin != "builtin" {
				return fmt.Errorf("default bus after destroy: backend %q, origin %q; want it reset: no backend (the process's default) and origin builtin", b.Backend, b.Origin)
			}
			return nil
		},
		Steps: []resource.TestStep{{
			Config: providerConfig(endpoint) + `
resource "eventbus_bus" "default" {
  name    = "default"
  backend = "mem://"
}
`,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("eventbus_bus.default", "origin", "api"),
				resource.TestCheckResourceAttr("eventbus_bus.default", "backend", "mem://"),
			),
		}},
	})
}

func TestAccBusThatExistsMustBeImported(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	if _, err := client.PutBus(context.Background(), sdk.Bus{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{{
			Config: providerConfig(endpoint) + `
resource "eventbus_bus" "shop" {
  name = "shop"
}
`,
			ExpectError: regexp.MustCompile(`already has a bus "shop"(?s).*terraform import`),
		}},
	})
}
