package bus

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
)

// A route's signing secret lives in the store with the route, so every
// replica signs with the secret the creator was shown, and a rotation on
// one replica reaches the others.
func TestReplicasSignWithTheSecretTheCreatorWasShown(t *testing.T) {
	shared := store.NewMemory()
	one, two := startReplica(t, shared, Config{}), startReplica(t, shared, Config{})
	r := router.Route{Name: "signed", Paused: true, Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/"}}}
	saved, _, err := one.PutRoute(context.Background(), r, store.AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	shownSecret := saved.Target.HTTP.Signing.Secret
	secretOn := func(b *Bus) string {
		b.mu.Lock()
		defer b.mu.Unlock()
		if lr, ok := b.routes["signed"]; ok {
			return lr.route.Target.HTTP.Signing.Secret
		}
		return ""
	}
	testkit.Eventually(t, 5*time.Second, "the route and its secret on the second replica", func() bool { return secretOn(two) == shownSecret })

	rotated, err := two.RotateSigningSecret(context.Background(), "signed", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the rotated secret on the first replica", func() bool { return secretOn(one) == rotated.Target.HTTP.Signing.Secret })
}

// A route stored before the bus signed has no secret: it keeps delivering,
// unsigned, and one rotation gives it a secret to sign with.
func TestARouteStoredWithoutASecretGetsOneByRotation(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	old := `{"name":"legacy","paused":true,"target":{"http":{"url":"http://127.0.0.1:9/"}}}`
	if _, err := st.Put(ctx, store.Record{Kind: store.KindRoute, Name: "legacy", Spec: []byte(old)}, store.Absent); err != nil {
		t.Fatal(err)
	}
	b, err := newWithStore(ctx, Config{}.WithDefaults(), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("a route stored without a secret must still load: %v", err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	rotated, err := b.RotateSigningSecret(ctx, "legacy", "", nil)
	if err != nil {
		t.Fatalf("rotating: %v", err)
	}
	s := rotated.Target.HTTP.Signing
	if _, err := router.SigningKey(s.Secret); err != nil || s.PreviousSecretHint != "" {
		t.Errorf("after the rotation signing = %+v: want a generated secret, shown, and no previous one", s)
	}
}
