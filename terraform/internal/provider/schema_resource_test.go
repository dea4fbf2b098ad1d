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

// A schema resource saves a version per change of its document, a bus
// resource turns enforcement on, reformatting the document is no new
// version,
// a bad document fails naming the place in it, and destroy deletes it.
func TestAccSchemaLifecycle(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	config := func(doc string) string {
		return providerConfig(endpoint) + fmt.Sprintf(`
resource "eventbus_bus" "shop" {
  name    = "shop"
  schemas = "enforce"
}

resource "eventbus_schema" "order" {
  type   = "order.created"
  schema = %s
}
`, doc)
	}
	checkVersion := func(want int) resource.TestCheckFunc {
		return func(*terraform.State) error {
			s, err := client.GetSchema(context.Background(), "order.created", 0)
			if err != nil || s.Version != want {
				return fmt.Errorf("the bus has the schema %+v, %v; want version %d", s, err, want)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := client.GetSchema(context.Background(), "order.created", 0); !sdk.IsNotFound(err) {
				return fmt.Errorf("schema after destroy: got %v, want 404", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config(`jsonencode({ type = "object", required = ["total"] })`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_schema.order", "version", "1"),
					resource.TestCheckResourceAttr("eventbus_bus.shop", "schemas", "enforce"),
					checkVersion(1),
				),
			},
			{
				// The same document, spelt otherwise: no new version.
				Config: config(`"{ \"required\": [\"total\"],  \"type\": \"object\" }"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_schema.order", "version", "1"),
					checkVersion(1),
				),
			},
			{
				Config: config(`jsonencode({ type = "object", required = ["total", "currency"] })`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_schema.order", "version", "2"),
					checkVersion(2),
				),
			},
			{
				Config:      config(`jsonencode({ type = "integr" })`),
				ExpectError: regexp.MustCompile(`schema\.type`),
			},
		},
	})
}
