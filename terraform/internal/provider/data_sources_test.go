package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

func TestAccDataSources(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{{
			Config: providerConfig(endpoint) + `
resource "eventbus_bus" "shop" {
  name = "shop"
}

resource "eventbus_route" "orders" {
  name   = "orders"
  bus    = eventbus_bus.shop.name
  match  = jsonencode({ type = ["order.created"] })
  target {
    http { url = "http://127.0.0.1:9/inventory" }
  }
  delivery {
    batch { max_events = 10 }
  }
  paused = true
}

resource "eventbus_route" "audit" {
  name   = "audit"
  target {
    http { url = "http://127.0.0.1:9/audit" }
  }
}

data "eventbus_bus" "default" {
  name = "default"
}

data "eventbus_routes" "all" {
  depends_on = [eventbus_route.orders, eventbus_route.audit]
}

data "eventbus_routes" "shop" {
  bus        = eventbus_bus.shop.name
  depends_on = [eventbus_route.orders, eventbus_route.audit]
}
`,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("data.eventbus_bus.default", "origin", "builtin"),
				resource.TestCheckNoResourceAttr("data.eventbus_bus.default", "backend"),
				resource.TestCheckResourceAttr("data.eventbus_routes.all", "routes.#", "2"),
				resource.TestCheckResourceAttr("data.eventbus_routes.all", "routes.0.name", "audit"),
				resource.TestCheckResourceAttr("data.eventbus_routes.all", "routes.0.target.http.timeout", "10s"),
				resource.TestCheckResourceAttr("data.eventbus_routes.all", "routes.0.delivery.max_attempts", "10"),
				resource.TestCheckResourceAttr("data.eventbus_routes.shop", "routes.#", "1"),
				resource.TestCheckResourceAttr("data.eventbus_routes.shop", "routes.0.name", "orders"),
				resource.TestCheckResourceAttr("data.eventbus_routes.shop", "routes.0.paused", "true"),
				resource.TestCheckResourceAttr("data.eventbus_routes.shop", "routes.0.delivery.batch.max_events", "10"),
				resource.TestCheckResourceAttr("data.eventbus_routes.shop", "routes.0.delivery.batch.max_wait", "10ms"),
				resource.TestCheckNoResourceAttr("data.eventbus_routes.all", "routes.0.delivery.batch.max_events"),
				resource.TestCheckResourceAttr("data.eventbus_routes.shop", "routes.0.match", `{"type":["order.created"]}`),
			),
		}},
	})
}
