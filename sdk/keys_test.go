package sdk_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/sdk"
)

// A client with Options.Token authenticates every call; the keys it
// creates work for other clients until revoked.
func TestClientWithTokenAuthenticatesAndManagesKeys(t *testing.T) {
	adminKey := auth.GenerateKey()
	t.Setenv("EVENTBUS_SDK_TEST_ADMIN_KEY", adminKey)
	base := bustest.Start(t, bus.Config{
		Auth:  &auth.Config{Admins: []string{"admins"}, APIKeys: []auth.APIKeyConfig{{Name: "ops", KeyEnv: "EVENTBUS_SDK_TEST_ADMIN_KEY", Groups: []string{"admins"}}}},
		Buses: []router.Bus{{Name: "shop", ACL: &auth.ACL{Emit: []auth.Grant{{Groups: []string{"shop"}}}}}},
	}).URL
	ctx := context.Background()
	anonymous, _ := sdk.New(base, sdk.Options{Bus: "shop"})
	if _, err := anonymous.Emit(ctx, sampleEvent("1")); !sdk.IsUnauthenticated(err) {
		t.Fatalf("emit without a token: %v; want a 401 the caller can recognise with IsUnauthenticated", err)
	}
	admin, _ := sdk.New(base, sdk.Options{Token: adminKey})
	k, err := admin.CreateKey(ctx, "shop-web", []string{"shop"})
	if err != nil || k.Secret == "" {
		t.Fatalf("CreateKey: %+v, %v", k, err)
	}
	shop, _ := sdk.New(base, sdk.Options{Bus: "shop", Token: k.Secret})
	if _, err := shop.Emit(ctx, sampleEvent("2")); err != nil {
		t.Fatalf("emit with the new key: %v", err)
	}
	if _, err := shop.ListKeys(ctx); !sdk.IsPermissionDenied(err) {
		t.Errorf("ListKeys by a non-admin: %v; want 403", err)
	}
	keys, err := admin.ListKeys(ctx)
	if err != nil || len(keys) != 2 || keys[1].Name != "shop-web" || keys[1].Origin != "api" {
		t.Errorf("ListKeys = %+v, %v; want ops and shop-web", keys, err)
	}
	if err := admin.RevokeKey(ctx, "shop-web"); err != nil {
		t.Fatal(err)
	}
	if _, err := shop.Emit(ctx, sampleEvent("3")); !sdk.IsUnauthenticated(err) {
		t.Errorf("emit with a revoked key: %v; want 401", err)
	}
}

func sampleEvent(id string) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("web")
	e.SetType("order.created")
	return e
}

// A bus's ACL reads back through the SDK as it was written, in either
// form of emit grant.
func TestBusACLRoundTrips(t *testing.T) {
	c := busClient(t)
	acl := &sdk.ACL{
		Emit:   []sdk.EmitGrant{{Groups: []string{"shop"}}, {Groups: []string{"partners"}, Types: []string{"order.*"}}},
		Manage: []string{"admins"},
		Read:   []string{"admins"},
	}
	if _, err := c.PutBus(context.Background(), sdk.Bus{Name: "shop", ACL: acl}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBus(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.ACL, acl) {
		t.Errorf("ACL read back as %+v, want %+v", got.ACL, acl)
	}
}
