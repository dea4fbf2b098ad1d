package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/eventbus-go/eventbus/auth"
)

func TestGeneratedKeysAreLongRandomAndRecognisable(t *testing.T) {
	a, b := auth.GenerateKey(), auth.GenerateKey()
	if a == b {
		t.Fatal("two generated keys are equal: keys must be random")
	}
	if !strings.HasPrefix(a, auth.KeyPrefix) || len(a) != len(auth.KeyPrefix)+43 {
		t.Errorf("key %q: want %s and 43 characters of base64 (32 random bytes)", a, auth.KeyPrefix)
	}
}

func TestKeyringFindsKeysByHashWithoutAllocating(t *testing.T) {
	key := auth.GenerateKey()
	ring := auth.NewKeyring([]auth.Key{{Name: "shop-web", Groups: []string{"shop"}, Hash: auth.HashKey(key)}})
	id, ok := ring.Lookup(key)
	if !ok || id.Name != "shop-web" || id.Kind != "key" {
		t.Fatalf("Lookup(key) = %v, %v; want key \"shop-web\"", id, ok)
	}
	if _, ok := ring.Lookup(key + "x"); ok {
		t.Error("a different key was accepted")
	}
	if n := testing.AllocsPerRun(100, func() { ring.Lookup(key) }); n != 0 {
		t.Errorf("Lookup allocates %v times; it runs on every request and must not allocate", n)
	}
}

func TestConfigKeysNameTheMissingVariable(t *testing.T) {
	cfg := auth.Config{APIKeys: []auth.APIKeyConfig{
		{Name: "shop-web", KeyEnv: "SHOP_WEB_KEY", Groups: []string{"shop"}},
		{Name: "ops", KeyEnv: "OPS_KEY", Groups: []string{"admins"}},
	}}
	env := map[string]string{"OPS_KEY": "short"}
	_, err := cfg.ConfigKeys(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "SHOP_WEB_KEY is not set") {
		t.Errorf("err = %v; want it to name SHOP_WEB_KEY as not set", err)
	}
	if err == nil || !strings.Contains(err.Error(), "OPS_KEY is 5 characters") || strings.Contains(err.Error(), "short") {
		t.Errorf("err = %v; want it to say the key in OPS_KEY is too short, without showing it", err)
	}
}

// BenchmarkAuthenticateAndAuthorize is what authentication adds to each
// ingress request: find the key, check the bus's emit grant and the event's
// type against it.
func BenchmarkAuthenticateAndAuthorize(b *testing.B) {
	key := auth.GenerateKey()
	a := auth.NewAuthenticator(nil)
	a.SetKeys([]auth.Key{{Name: "shop-web", Groups: []string{"shop"}, Hash: auth.HashKey(key)}})
	policy := auth.Policy{Admins: []string{"admins"}}
	acl := &auth.ACL{Emit: []auth.Grant{{Groups: []string{"shop"}, Types: []string{"order.*"}}}}
	header := "Bearer " + key
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		id, err := a.Authenticate(ctx, header)
		if err != nil {
			b.Fatal(err)
		}
		if err := policy.Allow(id, "shop", acl, auth.Emit); err != nil {
			b.Fatal(err)
		}
		if err := policy.AllowEvent(id, "shop", acl, "order.created", "web"); err != nil {
			b.Fatal(err)
		}
	}
}
