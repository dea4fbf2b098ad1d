package bus

import (
	"context"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/internal/testkit"
)

// A key revoked on one replica stops working on the others as soon as the
// shared store announces the change, not at their next restart.
func TestKeyRevokedOnOneReplicaIsRefusedByTheOthers(t *testing.T) {
	shared := store.NewMemory()
	cfg := Config{Auth: &auth.Config{Admins: []string{"admins"}}}
	one, two := startReplica(t, shared, cfg), startReplica(t, shared, cfg)
	accepts := func(b *Bus, key string) bool {
		_, err := b.access.authn.Authenticate(context.Background(), "Bearer "+key)
		return err == nil
	}
	k, err := one.CreateKey(context.Background(), "ci", []string{"shop"})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the second replica to accept the new key", func() bool { return accepts(two, k.Secret) })
	if err := one.RevokeKey(context.Background(), "ci"); err != nil {
		t.Fatal(err)
	}
	if accepts(one, k.Secret) {
		t.Error("the replica that revoked the key still accepts it")
	}
	testkit.Eventually(t, 5*time.Second, "the second replica to refuse the revoked key", func() bool { return !accepts(two, k.Secret) })
}
