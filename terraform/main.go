// Command terraform-provider-eventbus is a Terraform provider for the buses
// and routes of an eventbus process. Terraform starts it as a plugin; see
// README.md for building it and pointing Terraform at it.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/eventbus-go/eventbus/terraform/internal/provider"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// address names the served provider in Terraform's plugin logs. Terraform
// itself finds the binary through the source address of the configuration
// (eventbus-go/eventbus) and the dev_overrides of its CLI config.
const address = "eventbus.local/eventbus-go/eventbus"

func main() {
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{Address: address})
	if err != nil {
		log.Fatal(err)
	}
}
