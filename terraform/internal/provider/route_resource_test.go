package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

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
  target {
    http {
      url     = "http://127.0.0.1:9/hook"
      headers = { Authorization = "Bearer s3cret" }
    }
  }
  delivery {
    max_attempts = 8
    max_age      = "24h"
    backoff {
      initial = "1s"
      max     = "1m"
    }
  }
}
`
	updated := providerConfig(endpoint) + `
resource "eventbus_route" "mail" {
  name   = "signup-mail"
  match  = jsonencode({ type = ["user.signed_up"] })
  paused = true
  target {
    http {
      url     = "http://127.0.0.1:9/hook"
      timeout = "2s"
    }
  }
  delivery {
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
				// Created; what the blocks leave out shows the bus's defaults,
				// and the plan after apply is empty.
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
				// defaults that depend on other arguments follow them, and
				// a block left out (backoff) goes back to the bus's
				// defaults.
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
					resource.TestCheckNoResourceAttr("eventbus_route.mail", "delivery.backoff.initial"),
					resource.TestCheckNoResourceAttr("eventbus_route.mail", "filters"),
					resource.TestCheckNoResourceAttr("eventbus_route.mail", "target.http.headers.%"),
					checkRouteOnBus(client, "signup-mail", func(r sdk.Route) error {
						if !r.Paused || r.Delivery.MaxDepth != 100 || r.Delivery.MaxAge != "" || r.Filters != nil || r.Delivery.Backoff.Initial != "200ms" {
							return fmt.Errorf("paused %v, max_depth %d, max_age %q, filters %s, backoff.initial %q: want true, 100, none, none, 200ms",
								r.Paused, r.Delivery.MaxDepth, r.Delivery.MaxAge, r.Filters, r.Delivery.Backoff.Initial)
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
				// The bus never shows the secret it generated again.
				ImportStateVerifyIgnore: []string{"target.http.signing_secret"},
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
  target {
    http { url = "http://127.0.0.1:9/audit" }
  }
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

// A route without a delivery block has the bus's defaults, and Terraform
// keeps no delivery block for it: the plan after apply and after import is
// empty. A policy changed outside Terraform shows as the block to remove,
// and applying puts the defaults back.
func TestAccRouteWithoutDeliveryBlockKeepsTheBusDefaults(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	config := providerConfig(endpoint) + `
resource "eventbus_route" "audit" {
  name = "audit"
  target {
    http { url = "http://127.0.0.1:9/audit" }
  }
}
`
	hasDefaultMaxAttempts := checkRouteOnBus(client, "audit", func(r sdk.Route) error {
		if r.Delivery.MaxAttempts != 10 {
			return fmt.Errorf("max_attempts %d: want the bus's default, 10", r.Delivery.MaxAttempts)
		}
		return nil
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkRoutesGone(client, "audit"),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr("eventbus_route.audit", "delivery.max_attempts"),
					hasDefaultMaxAttempts,
				),
			},
			{
				ResourceName:                         "eventbus_route.audit",
				ImportState:                          true,
				ImportStateId:                        "audit",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				// The bus never shows the secret it generated again.
				ImportStateVerifyIgnore: []string{"target.http.signing_secret"},
			},
			{
				PreConfig: func() {
					r, err := client.GetRoute(context.Background(), "audit")
					if err != nil {
						t.Fatal(err)
					}
					r.Delivery.MaxAttempts = 5
					if _, err := client.PutRoute(context.Background(), r); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("eventbus_route.audit", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("eventbus_route.audit", tfjsonpath.New("delivery"), knownvalue.Null()),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr("eventbus_route.audit", "delivery.max_attempts"),
					hasDefaultMaxAttempts,
				),
			},
		},
	})
}

// Terraform refuses an argument that a block does not have, naming it,
// rather than ignoring it: a misspelt max_attempts must not leave a route
// at the default. Arguments a block requires are required once it is
// written, and the target block always is.
func TestAccRouteBlocksRefuseWhatTheyDoNotHave(t *testing.T) {
	requireAcceptance(t)
	route := func(blocks string) string {
		// Never contacted: each plan fails on the configuration first.
		return providerConfig("http://127.0.0.1:9") + `
resource "eventbus_route" "typo" {
  name = "typo"
` + blocks + `
}
`
	}
	httpTarget := `
  target {
    http { url = "http://127.0.0.1:9/hook" }
  }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{
			{
				Config: route(httpTarget + `
  delivery {
    max_attemps = 3
  }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`An\s+argument\s+named\s+"max_attemps"\s+is\s+not\s+expected\s+here`),
			},
			{
				Config: route(httpTarget + `
  delivery {
    backoff {
      intial = "1s"
    }
  }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`An\s+argument\s+named\s+"intial"\s+is\s+not\s+expected\s+here`),
			},
			{
				Config: route(`
  target {
    topic { url = "mem://" }
  }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`A\s+topic\s+on\s+a\s+backend\s+needs\s+name`),
			},
			{
				Config:      route(""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Block\s+target\s+must\s+have\s+a\s+configuration\s+value`),
			},
		},
	})
}

// A create never takes over a route made elsewhere: it says to import it,
// and leaves it as it was.
func TestAccRouteThatExistsMustBeImported(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	if _, err := client.PutRoute(context.Background(), sdk.Route{Name: "audit", Target: sdk.Target{HTTP: &sdk.HTTPTarget{URL: "http://127.0.0.1:9/audit"}}}); err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{{
			Config: providerConfig(endpoint) + `
resource "eventbus_route" "audit" {
  name = "audit"
  target {
    http { url = "http://127.0.0.1:9/elsewhere" }
  }
}
`,
			ExpectError: regexp.MustCompile(`already has a route "audit"(?s).*terraform import`),
		}},
	})
	r, err := client.GetRoute(context.Background(), "audit")
	if err != nil || r.Version != 1 || r.Target.HTTP.URL != "http://127.0.0.1:9/audit" {
		t.Errorf("route after the refused create: %+v, %v; want it unchanged at version 1", r, err)
	}
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
  target {
    http { url = "http://127.0.0.1:9/sold-out" }
  }
}

resource "eventbus_route" "flash" {
  name   = "flash"
  match  = jsonencode({ type = ["order.placed"] })
  target {
    http { url = "http://127.0.0.1:9/orders" }
  }
  delivery {
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
  target {
    http { url = "http://127.0.0.1:9/hook" }
  }
` + attributes + `
}
`
	}
	// Each field the bus refuses is reported on its line of the
	// configuration, with the bus's message naming the field.
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{
			{
				Config:      route(`backend = "nope"`),
				ExpectError: regexp.MustCompile(`backend = "nope"\s+backend:\s+has\s+no\s+scheme:\s+write\s+a\s+backend\s+URL`),
			},
			{
				Config: route(`
  delivery {
    max_depth = 10
    overflow  = "sideways"
  }`),
				ExpectError: regexp.MustCompile(`overflow  = "sideways"\s+delivery\.overflow:\s+"sideways":\s+use\s+reject`),
			},
		},
	})
}

// Signing and auth: the secret the bus generated at creation is kept in
// the state, credentials are sent to the bus but never read back, and
// neither makes the next plan show a change.
func TestAccRouteSigningAndAuthAreWriteOnly(t *testing.T) {
	requireAcceptance(t)
	endpoint := startBus(t)
	client := newClient(t, endpoint)
	config := func(secret string) string {
		return providerConfig(endpoint) + `
resource "eventbus_route" "signed" {
  name = "signed"
  target {
    http {
      url            = "http://127.0.0.1:9/hook"
      ` + secret + `
      auth = {
        basic = { username = "bus", password = "pa55word" }
      }
    }
  }
}
`
	}
	const given = "whsec_Z2l2ZW4tc2VjcmV0LW9mLXRoZS10ZXN0LTMyLWJ5dGU="
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkRoutesGone(client, "signed"),
		Steps: []resource.TestStep{
			{
				Config: config(""),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrWith("eventbus_route.signed", "target.http.signing_secret", func(v string) error {
						if !regexp.MustCompile(`^whsec_[A-Za-z0-9+/]+=*$`).MatchString(v) {
							return fmt.Errorf("signing_secret %q: want the secret the bus generated", v)
						}
						return nil
					}),
					resource.TestCheckResourceAttr("eventbus_route.signed", "target.http.auth.basic.password", "pa55word"),
					checkRouteOnBus(client, "signed", func(r sdk.Route) error {
						h := r.Target.HTTP
						if h.Signing == nil || h.Signing.Secret != "" || h.Signing.SecretHint == "" || h.Auth == nil || h.Auth.Basic == nil || h.Auth.Basic.Password != "" {
							return fmt.Errorf("signing %+v, auth %+v: want a hint and no secret or password shown", h.Signing, h.Auth)
						}
						return nil
					}),
				),
			},
			{
				Config: config(`signing_secret = "` + given + `"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("eventbus_route.signed", "target.http.signing_secret", given),
					resource.TestCheckResourceAttr("eventbus_route.signed", "target.http.signing_secret_hint", "whsec_…dGU="),
				),
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
