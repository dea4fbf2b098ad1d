package delivery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/verdict"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// tokenEndpoint is an OAuth2 token endpoint that counts the tokens it gives
// out ("tok-1", "tok-2", …), valid for an hour, or fails with status.
type tokenEndpoint struct {
	url     string
	fetches atomic.Int32
	status  atomic.Int32 // 0: 200
}

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	te := &tokenEndpoint{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := te.status.Load(); s != 0 {
			http.Error(w, `{"error":"server_error"}`, int(s))
			return
		}
		if id, secret, _ := r.BasicAuth(); id != "bus" || secret != "client-secret" || r.FormValue("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		n := te.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	t.Cleanup(srv.Close)
	te.url = srv.URL + "/token"
	return te
}

// bearerTarget records the bearer token of each request and answers 401 to
// the tokens in refuse.
func bearerTarget(t *testing.T, refuse string) (string, func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		got = append(got, tok)
		mu.Unlock()
		if tok == refuse {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

func oauth2Target(t *testing.T, targetURL, tokenURL string, clock *fakeClock) *HTTPTarget {
	t.Helper()
	r := router.Route{Name: "oauth", Bus: router.DefaultBus, Target: router.Target{HTTP: &router.HTTPTarget{
		URL: targetURL,
		Auth: &router.TargetAuth{OAuth2: &router.OAuth2Auth{
			TokenURL: tokenURL, ClientID: "bus", ClientSecret: "client-secret", Scopes: []string{"events:write"},
		}},
		Signing: &router.Signing{Disabled: true},
	}}}.WithDefaults()
	ht, err := newHTTPTarget(newTargetClient(&r), &r, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return ht
}

func testEvent(id string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("test")
	e.SetType("test.auth")
	_ = e.SetData(event.ApplicationJSON, map[string]string{"id": id})
	return &e
}

// One token serves every delivery until it nears its expiry; then exactly
// one new one is fetched, however many deliveries run at once.
func TestAnOAuth2TokenIsFetchedOnceAndAgainAfterItExpires(t *testing.T) {
	te := newTokenEndpoint(t)
	url, seen := bearerTarget(t, "")
	clock := &fakeClock{now: time.Now()}
	ht := oauth2Target(t, url, te.url, clock)

	deliverMany := func() {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if o := ht.Deliver(context.Background(), testEvent(fmt.Sprint(i))); o.Verdict != verdict.Ack {
					t.Errorf("delivery %d: %+v; want ack", i, o)
				}
			})
		}
		wg.Wait()
	}
	deliverMany()
	if n := te.fetches.Load(); n != 1 {
		t.Fatalf("%d token fetches for 20 deliveries; want 1: the token must be cached, not fetched per delivery", n)
	}
	clock.advance(time.Hour - tokenEarly + time.Second)
	deliverMany()
	if n := te.fetches.Load(); n != 2 {
		t.Fatalf("%d token fetches after the token expired; want 2: exactly one new token for the next deliveries", n)
	}
	got := seen()
	if got[0] != "tok-1" || got[len(got)-1] != "tok-2" {
		t.Errorf("bearer tokens sent: first %q, last %q; want tok-1 then tok-2", got[0], got[len(got)-1])
	}
}

// A token endpoint that fails fails the attempt, to be retried, with a
// reason that says so and does not show the client secret.
func TestAFailingTokenEndpointRetriesTheDeliveryAndSaysWhy(t *testing.T) {
	te := newTokenEndpoint(t)
	te.status.Store(http.StatusInternalServerError)
	url, seen := bearerTarget(t, "")
	ht := oauth2Target(t, url, te.url, &fakeClock{now: time.Now()})

	o := ht.Deliver(context.Background(), testEvent("1"))
	if o.Verdict != verdict.Retry || !strings.Contains(o.Reason, "getting an OAuth2 token from "+te.url) || !strings.Contains(o.Reason, "500") {
		t.Errorf("outcome %+v; want a retry whose reason names the token endpoint and its 500", o)
	}
	if strings.Contains(o.Reason, "client-secret") {
		t.Errorf("reason %q shows the client secret", o.Reason)
	}
	if n := len(seen()); n != 0 {
		t.Errorf("the target got %d requests; want none without a token", n)
	}
	te.status.Store(0)
	if o := ht.Deliver(context.Background(), testEvent("1")); o.Verdict != verdict.Ack {
		t.Errorf("once the token endpoint recovers the retry must succeed; got %+v", o)
	}
}

// A target that answers 401 to a cached token gets a fresh one on the next
// attempt, not the refused one again until it expires.
func TestATokenTheTargetRefusesIsNotOfferedAgain(t *testing.T) {
	te := newTokenEndpoint(t)
	url, _ := bearerTarget(t, "tok-1")
	ht := oauth2Target(t, url, te.url, &fakeClock{now: time.Now()})
	if o := ht.Deliver(context.Background(), testEvent("1")); o.Status != http.StatusUnauthorized {
		t.Fatalf("first attempt %+v; want the target's 401", o)
	}
	if o := ht.Deliver(context.Background(), testEvent("1")); o.Verdict != verdict.Ack {
		t.Errorf("second attempt %+v; want an ack with a fresh token", o)
	}
	if n := te.fetches.Load(); n != 2 {
		t.Errorf("%d token fetches; want 2", n)
	}
}

// Signing keys stop signing at their expiry, by the signer's clock.
func TestThePreviousSecretStopsSigningAtItsExpiry(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s, err := newSigner(&router.Signing{
		Secret:          router.NewSigningSecret(),
		PreviousSecret:  router.NewSigningSecret(),
		PreviousExpires: clock.Now().Add(time.Hour),
	}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	s.sign(h, "msg_1", []byte("{}"))
	if n := len(strings.Fields(h.Get(HeaderWebhookSignature))); n != 2 {
		t.Errorf("%d signatures before the expiry; want 2 (new and previous)", n)
	}
	clock.advance(time.Hour)
	s.sign(h, "msg_1", []byte("{}"))
	if n := len(strings.Fields(h.Get(HeaderWebhookSignature))); n != 1 {
		t.Errorf("%d signatures at the expiry; want 1: the previous secret's overlap is over", n)
	}
}

// BenchmarkSigningADelivery is what signing adds to one delivery of a 1 KiB
// event, during a rotation (two signatures).
func BenchmarkSigningADelivery(b *testing.B) {
	s, err := newSigner(&router.Signing{Secret: router.NewSigningSecret(), PreviousSecret: router.NewSigningSecret(), PreviousExpires: time.Now().Add(time.Hour)}, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 1024)
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		s.sign(h, webhookID("default", "web", "1"), body)
	}
}
