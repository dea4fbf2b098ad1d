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

func TestAccRouteLifecycle(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)

	// Durations and JSON are written differently from the bus's answers
	// ("1m" for "1m0s", spaces in JSON): neither may cause a diff.
	created := providerConfig(endpoint) + `
resource "eventbus_route" "mail" {
  name    = "signup-mail"
  match   = "{\"type\": [\"user.signed_up\"], \"data\": {\"plan\": [{\"prefix\": \"pro\"}]}}"
  filters = jsonencode([{ sql = "source LIKE 'web/%'" }])
  target = {
    http = {
      url     = "http://127.0.0.1:9/hook"
      headers = { Authorization = "Bearer s3cret" }
    }
  }
  delivery = {
    max_attempts = 8
    max_age      = "24h"
    backoff      = { initial = "1s", max = "1m" }
  }
}
`
	updated := providerConfig(endpoint) + `
resource "eventbus_route" "mail" {
  name   = "signup-mail"
  match  = jsonencode({ type = ["user.signed_up"] })
  paused = true
  target = { http = { url = "http://127.0.0.1:9/hook", timeout = "2s" } }
  delivery = {
    max_attempts = 3
    max_depth    = 100
  }
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkRoutesGone(client, "signup-mail"),
		Steps: []resource.TestStep{
			{
				// Created; what the configuration leaves out shows the bus's
				// defaults, and the plan after apply is empty.
				Config: created,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_route.mail", "bus", "default"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "backend", "mem://"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "target.http.timeout", "10s"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "delivery.max_inflight", "16"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "delivery.client_errors", "dead-letter"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "delivery.dead_letter", "true"),
					resource.TestCheckNoResourceAttr("eventbus_route.mail", "delivery.overflow"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "paused", "false"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "version", "1"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "origin", "api"),
					checkRouteOnBus(client, "signup-mail", func(r sdk.Route) error {
						if r.Delivery.MaxAttempts != 8 || r.Delivery.Backoff.Max != "1m0s" || r.Target.HTTP.Headers["Authorization"] != "Bearer s3cret" {
							return fmt.Errorf("max_attempts %d, backoff.max %q, headers %v: want 8, 1m0s and the Authorization header",
								r.Delivery.MaxAttempts, r.Delivery.Backoff.Max, r.Target.HTTP.Headers)
						}
						return nil
					}),
				),
			},
			{
				// Changed in place, guarded by the version Terraform read;
				// defaults that depend on other attributes follow them.
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("eventbus_route.mail", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_route.mail", "version", "2"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "paused", "true"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "delivery.overflow", "reject"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "delivery.max_attempts", "3"),
					resource.TestCheckNoResourceAttr("eventbus_route.mail", "delivery.max_age"),
					resource.TestCheckResourceAttr("eventbus_route.mail", "delivery.backoff.max", "1m0s"),
					resource.TestCheckNoResourceAttr("eventbus_route.mail", "filters"),
					resource.TestCheckNoResourceAttr("eventbus_route.mail", "target.http.headers.%"),
					checkRouteOnBus(client, "signup-mail", func(r sdk.Route) error {
						if !r.Paused || r.Delivery.MaxDepth != 100 || r.Delivery.MaxAge != "" || r.Filters != nil {
							return fmt.Errorf("paused %v, max_depth %d, max_age %q, filters %s: want true, 100, none, none",
								r.Paused, r.Delivery.MaxDepth, r.Delivery.MaxAge, r.Filters)
						}
						return nil
					}),
				),
			},
			{
				// Imported by name, the route reads back as Terraform keeps it.
				ResourceName:                         "eventbus_route.mail",
				ImportState:                          true,
				ImportStateId:                        "signup-mail",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
			{
				// Changed through the API behind Terraform's back: the plan
				// shows it.
				PreConfig: func() {
					r, err := client.GetRoute(context.Background(), "signup-mail")
					if err != nil {
						t.Fatal(err)
					}
					r.Delivery.MaxAttempts = 5
					if _, err := client.PutRoute(context.Background(), r); err != nil {
						t.Fatal(err)
					}
				},
				Config:             updated,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// Applying the configuration again puts it back.
				Config: updated,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_route.mail", "version", "4"),
					checkRouteOnBus(client, "signup-mail", func(r sdk.Route) error {
						if r.Delivery.MaxAttempts != 3 {
							return fmt.Errorf("max_attempts %d: want 3, as configured", r.Delivery.MaxAttempts)
						}
						return nil
					}),
				),
			},
		},
	})
}

func TestAccRouteDeletedOutsideTerraformIsPlannedAgain(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	config := providerConfig(endpoint) + `
resource "eventbus_route" "audit" {
  name   = "audit"
  target = { http = { url = "http://127.0.0.1:9/audit" } }
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkRoutesGone(client, "audit"),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					if err := client.DeleteRoute(context.Background(), "audit"); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("eventbus_route.audit", plancheck.ResourceActionCreate),
				}},
				Check: checkRouteOnBus(client, "audit", func(sdk.Route) error { return nil }),
			},
		},
	})
}

func TestAccRouteOverflowDivertsToAnotherRoute(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkRoutesGone(client, "flash", "sold-out"),
		Steps: []resource.TestStep{{
			Config: providerConfig(endpoint) + `
resource "eventbus_route" "sold_out" {
  name   = "sold-out"
  match  = jsonencode({ type = ["order.placed"] })
  target = { http = { url = "http://127.0.0.1:9/sold-out" } }
}

resource "eventbus_route" "flash" {
  name   = "flash"
  match  = jsonencode({ type = ["order.placed"] })
  target = { http = { url = "http://127.0.0.1:9/orders" } }
  delivery = {
    max_depth    = 100
    overflow     = "divert:${eventbus_route.sold_out.name}"
    ordering_key = "subject"
    rate         = "200/s"
  }
}
`,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("eventbus_route.flash", "delivery.overflow", "divert:sold-out"),
				resource.TestCheckNoResourceAttr("eventbus_route.flash", "delivery.block_timeout"),
			),
		}},
	})
}

func TestAccRouteInvalidFieldIsReportedOnItsAttribute(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	route := func(attributes string) string {
		return providerConfig(endpoint) + `
resource "eventbus_route" "bad" {
  name   = "bad"
  target = { http = { url = "http://127.0.0.1:9/hook" } }
` + attributes + `
}
`
	}
	// Each field the bus refuses is reported on the configuration line of
	// its top-level attribute, with the bus's message naming the field.
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{
			{
				Config:      route(`backend = "nope"`),
				ExpectError: regexp.MustCompile(`backend = "nope"\s+backend:\s+"nope"\s+is\s+not\s+a\s+backend\s+URL`),
			},
			{
				Config:      route(`delivery = { max_depth = 10, overflow = "sideways" }`),
				ExpectError: regexp.MustCompile(`delivery = \{ max_depth = 10, overflow = "sideways" \}\s+delivery\.overflow:\s+"sideways":\s+use\s+reject`),
			},
		},
	})
}

// checkRouteOnBus checks the route as the bus has it.
func checkRouteOnBus(client *sdk.Client, name string, check func(sdk.Route) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		r, err := client.GetRoute(context.Background(), name)
		if err != nil {
			return fmt.Errorf("route %q on the bus: %w", name, err)
		}
		if err := check(r); err != nil {
			return fmt.Errorf("route %q on the bus: %w", name, err)
		}
		return nil
	}
}

// checkRoutesGone makes sure terraform destroy removed the routes from the bus.
func checkRoutesGone(client *sdk.Client, names ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, name := range names {
			_, err := client.GetRoute(context.Background(), name)
			if err == nil {
				return fmt.Errorf("route %q still exists on the bus after destroy", name)
			}
			if !sdk.IsNotFound(err) {
				return err
			}
		}
		return nil
	}
}
