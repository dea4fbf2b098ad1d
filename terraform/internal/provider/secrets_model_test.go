package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/eventbus-go/eventbus/sdk"
)

// The bus answers without the signing secret and credentials; the state
// must keep what the configuration wrote, or an apply would plan to change
// them forever (or send them empty). This goes through the framework's own
// conversion, as Terraform does.
func TestWriteOnlySecretsSurviveTheBusAnswerAndTheState(t *testing.T) {
	ctx := context.Background()
	var sch resource.SchemaResponse
	newRouteResource().Schema(ctx, resource.SchemaRequest{}, &sch)
	if sch.Diagnostics.HasError() {
		t.Fatal(sch.Diagnostics)
	}
	answer := sdk.Route{Name: "r", Bus: "default", Target: sdk.Target{HTTP: &sdk.HTTPTarget{
		URL: "http://127.0.0.1:9/", Timeout: "10s",
		Signing: &sdk.Signing{SecretHint: "whsec_…abcd"},
		Auth:    &sdk.TargetAuth{OAuth2: &sdk.OAuth2Auth{TokenURL: "http://127.0.0.1:9/token", ClientID: "bus", Scopes: []string{"a"}}},
	}}}
	prior, diags := routeFromAPI(ctx, answer)
	if diags.HasError() {
		t.Fatal(diags)
	}
	prior.Target.HTTP.SigningSecret = stringOrNull("whsec_written-by-the-user")
	prior.Target.HTTP.Auth.OAuth2.ClientSecret = stringOrNull("client-secret")

	state := tfsdk.State{Schema: sch.Schema, Raw: tftypes.NewValue(sch.Schema.Type().TerraformType(ctx), nil)}
	setRouteState(ctx, answer, prior, &state, &diags)
	if diags.HasError() {
		t.Fatalf("the schema and the model disagree: %v", diags)
	}
	var got routeModel
	if diags := state.Get(ctx, &got); diags.HasError() {
		t.Fatal(diags)
	}
	h := got.Target.HTTP
	if h.SigningSecret.ValueString() != "whsec_written-by-the-user" || h.Auth.OAuth2.ClientSecret.ValueString() != "client-secret" {
		t.Errorf("state keeps signing_secret %s and client_secret %s; want what the configuration wrote", h.SigningSecret, h.Auth.OAuth2.ClientSecret)
	}
	if h.SigningSecretHint.ValueString() != "whsec_…abcd" {
		t.Errorf("signing_secret_hint = %s; want the bus's hint", h.SigningSecretHint)
	}
	sent, diags := got.toAPI(ctx)
	if diags.HasError() {
		t.Fatal(diags)
	}
	if sent.Target.HTTP.Signing.Secret != "whsec_written-by-the-user" || sent.Target.HTTP.Auth.OAuth2.ClientSecret != "client-secret" || sent.Target.HTTP.Auth.OAuth2.Scopes[0] != "a" {
		t.Errorf("an update sends %+v, %+v; want the kept secrets", sent.Target.HTTP.Signing, sent.Target.HTTP.Auth.OAuth2)
	}
}

// A route created without a secret: the answer carries the generated one,
// the only time the bus shows it, and the state keeps it for outputs.
func TestTheGeneratedSigningSecretIsKeptFromTheCreateAnswer(t *testing.T) {
	ctx := context.Background()
	answer := sdk.Route{Name: "r", Target: sdk.Target{HTTP: &sdk.HTTPTarget{URL: "http://127.0.0.1:9/", Signing: &sdk.Signing{Secret: "whsec_generated", SecretHint: "whsec_…ated"}}}}
	m, diags := routeFromAPI(ctx, answer)
	if diags.HasError() {
		t.Fatal(diags)
	}
	if m.Target.HTTP.SigningSecret.ValueString() != "whsec_generated" {
		t.Errorf("signing_secret = %s; want the generated secret of the create answer", m.Target.HTTP.SigningSecret)
	}
}

func TestTheRoutesDataSourceSchemaFitsARouteWithAuth(t *testing.T) {
	ctx := context.Background()
	var sch datasource.SchemaResponse
	(&routesDataSource{}).Schema(ctx, datasource.SchemaRequest{}, &sch)
	m, diags := routeFromAPI(ctx, sdk.Route{Name: "r", Target: sdk.Target{HTTP: &sdk.HTTPTarget{
		URL: "http://127.0.0.1:9/", Auth: &sdk.TargetAuth{Basic: &sdk.BasicAuth{Username: "bus"}},
	}}})
	if diags.HasError() {
		t.Fatal(diags)
	}
	state := tfsdk.State{Schema: sch.Schema, Raw: tftypes.NewValue(sch.Schema.Type().TerraformType(ctx), nil)}
	if diags := state.Set(ctx, routesModel{Bus: stringOrNull(""), Routes: []routeModel{m}}); diags.HasError() {
		t.Fatalf("the data source's schema and the route model disagree: %v", diags)
	}
}
