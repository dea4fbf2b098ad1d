package nats_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
	"github.com/eventbus-go/eventbus/adapters/nats"
	"github.com/eventbus-go/eventbus/errcode"
)

// serverURL is the external server the tests use, from EVENTBUS_TEST_NATS,
// by default nats://127.0.0.1:4222, with query as its options.
func serverURL(t *testing.T, query string) *url.URL {
	u := adaptertest.Server{
		Env:     "EVENTBUS_TEST_NATS",
		Default: "nats://127.0.0.1:4222",
		Start:   "nats-server -js",
		Open:    nats.Open,
	}.URL(t)
	u.RawQuery = query
	return u
}

// embeddedURL is an embedded server's URL with its store in a fresh
// directory, removed when the test ends.
func embeddedURL(t *testing.T, query string) *url.URL {
	q := "dir=" + url.QueryEscape(t.TempDir())
	if query != "" {
		q += "&" + query
	}
	return &url.URL{Scheme: nats.SchemeEmbedded, RawQuery: q}
}

func TestConformanceOnExternalServer(t *testing.T) {
	u := serverURL(t, "prefix=adaptertest")
	keepAccountDir(t, u)
	adaptertest.Run(t, adaptertest.Harness{
		Open: func(ctx context.Context) (adapters.Driver, error) { return nats.Open(ctx, u) },
	})
}

// keepAccountDir holds a stream of its own on the server until t ends.
// nats-server 2.9 (the Debian package CI runs) removes an account's
// streams directory when its last stream is deleted, and a stream created
// at that moment fails with "error creating store for stream"; the suite's
// parallel subtests create and delete streams at once, so one stream must
// outlive them.
func keepAccountDir(t *testing.T, u *url.URL) {
	t.Helper()
	nc, err := natsgo.Connect((&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host}).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("adaptertest_keeper_%d", time.Now().UnixNano())
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: name, Subjects: []string{name}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
}

// The suite opens a backend per subtest; each embedded backend is a server
// of its own, on a store of its own.
func TestConformanceOnEmbeddedServer(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Open: func(ctx context.Context) (adapters.Driver, error) {
			return nats.OpenEmbedded(ctx, embeddedURL(t, ""))
		},
	})
}

func TestUnknownOptionIsRefused(t *testing.T) {
	for _, u := range []*url.URL{
		{Scheme: nats.Scheme, Host: "127.0.0.1:4222", RawQuery: "prefx=x"},
		{Scheme: nats.SchemeEmbedded, RawQuery: "dir=/tmp/x&prefx=x"},
	} {
		open := nats.Open
		if u.Scheme == nats.SchemeEmbedded {
			open = nats.OpenEmbedded
		}
		_, err := open(t.Context(), u)
		if errcode.Of(err) != errcode.InvalidArgument || !strings.Contains(err.Error(), "prefix") {
			t.Errorf("Open(%s) = %v, want invalid_argument listing the known options: a typo must not be ignored", u, err)
		}
	}
}

func TestEmbeddedWithoutDirIsRefused(t *testing.T) {
	_, err := nats.OpenEmbedded(t.Context(), &url.URL{Scheme: nats.SchemeEmbedded})
	if errcode.Of(err) != errcode.InvalidArgument || !strings.Contains(err.Error(), "dir=") {
		t.Fatalf("OpenEmbedded without dir = %v, want invalid_argument naming dir=: the store must be somewhere the user chose", err)
	}
}

// A plain nats.go subscriber, which knows nothing of the bus, reads what a
// topic target publishes: the event in CloudEvents binary mode, as ce-*
// headers and the data as the payload.
func TestPlainSubscriberReadsTheTopicInBinaryMode(t *testing.T) {
	u := serverURL(t, "")
	nc, err := natsgo.Connect(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subject := fmt.Sprintf("adaptertest.topic.%d", time.Now().UnixNano())
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	d, err := nats.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	b, err := adapters.New(d)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	top, err := b.OpenTopic(t.Context(), subject)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Shutdown(context.Background())
	m := &adapters.Message{Body: []byte(`{"n":1}`), Metadata: map[string]string{
		"specversion": "1.0", "id": "topic-1", "source": "/nats-test", "type": "test", "datacontenttype": "application/json",
	}}
	if err := top.Publish(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	got, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("the plain subscriber got nothing: %v", err)
	}
	want := map[string]string{"ce-specversion": "1.0", "ce-id": "topic-1", "ce-source": "/nats-test", "ce-type": "test", "content-type": "application/json"}
	for k, v := range want {
		if got.Header.Get(k) != v {
			t.Errorf("header %s = %q, want %q (all %v): CloudEvents NATS consumers read these", k, got.Header.Get(k), v, got.Header)
		}
	}
	if string(got.Data) != `{"n":1}` {
		t.Errorf("payload %q, want the event's data", got.Data)
	}
}

// TLS options are read as for every backend, before anything is dialled: a
// CA file that cannot be read is the URL's mistake, named by its option.
func TestUnreadableCAFileIsRefusedNamingTheOption(t *testing.T) {
	u := &url.URL{Scheme: nats.Scheme, Host: "127.0.0.1:4222", RawQuery: "ca_file=" + url.QueryEscape(t.TempDir()+"/missing.pem")}
	_, err := nats.Open(t.Context(), u)
	if errcode.Of(err) != errcode.InvalidArgument || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("Open with an unreadable ca_file = %v, want invalid_argument naming ca_file: the operator must see which option to fix", err)
	}
}

// A delivery that takes longer than the ack wait (a slow target, or a
// retry the bus holds) stays with its subscription: the in-progress
// heartbeat keeps the server from handing it to another subscriber.
func TestHeldMessageOutlivesTheAckWait(t *testing.T) {
	u := embeddedURL(t, "ack_wait=600ms")
	b, name, ch := adaptertest.OpenChannel(t, func(ctx context.Context) (adapters.Driver, error) { return nats.OpenEmbedded(ctx, u) }, "slow")
	ctx := t.Context()
	m := &adapters.Message{Body: []byte("x"), Metadata: map[string]string{"specversion": "1.0", "id": "slow-1", "source": "/t", "type": "t"}}
	if err := ch.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	subscribe := func() *adapters.Subscription {
		s, err := b.OpenSubscription(ctx, name, adapters.SubscriptionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		return s
	}
	// The other subscription opens once the holder has the message, so the
	// two do not race for it.
	holder := subscribe()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	held, err := holder.Receive(rctx)
	if err != nil {
		t.Fatal(err)
	}
	other := subscribe()
	// Five ack waits: without the heartbeat the server would have
	// redelivered the message to the other subscription long before.
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if got, err := other.Receive(wctx); err == nil {
		t.Fatalf("the other subscription received %s while the first still held it: a held delivery must not be redelivered", got.Metadata["id"])
	}
	held.Ack()
}

// 1,000 events over 10 keys arrive in per-key order, one per key at a
// time, while every third first delivery of one key fails and is retried,
// and two subscriptions compete for the work.
func TestOrderingKeysKeepOrderWhileOneKeyRetries(t *testing.T) {
	const keys, perKey = 10, 100
	u := embeddedURL(t, "")
	b, name, ch := adaptertest.OpenChannel(t, func(ctx context.Context) (adapters.Driver, error) { return nats.OpenEmbedded(ctx, u) }, "ordered")
	ctx := t.Context()
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() {
			for i := range perKey {
				id := fmt.Sprintf("k%d-%03d", k, i)
				m := &adapters.Message{Body: []byte(id), Metadata: map[string]string{
					"specversion": "1.0", "id": id, "source": "/t", "type": "t", adapters.MetaOrderingKey: fmt.Sprintf("k%d", k),
				}}
				if err := ch.Send(ctx, m); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	var subs []*adapters.Subscription
	for range 2 {
		s, err := b.OpenSubscription(ctx, name, adapters.SubscriptionOptions{MaxInflight: 16, Ordered: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		subs = append(subs, s)
	}
	adaptertest.CheckPerKeyOrder(t, subs, keys, perKey)
}

// Events left on the ordering lanes when a route stops being ordered are
// delivered by the unordered subscriptions that follow.
func TestUnorderedSubscriptionDrainsTheLanes(t *testing.T) {
	d, err := nats.OpenEmbedded(t.Context(), embeddedURL(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	b, err := adapters.New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx := t.Context()
	if err := b.EnsureChannel(ctx, "was-ordered"); err != nil {
		t.Fatal(err)
	}
	ordered, err := b.OpenSubscription(ctx, "was-ordered", adapters.SubscriptionOptions{Ordered: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ordered.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ch, err := b.OpenChannel(ctx, "was-ordered")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Shutdown(context.Background()) })
	m := &adapters.Message{Body: []byte("x"), Metadata: map[string]string{"specversion": "1.0", "id": "keyed", "source": "/t", "type": "t", adapters.MetaOrderingKey: "k"}}
	if err := ch.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	sub, err := b.OpenSubscription(ctx, "was-ordered", adapters.SubscriptionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Shutdown(context.Background()) })
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := sub.Receive(rctx)
	if err != nil {
		t.Fatalf("Receive: %v: a keyed event must not be stranded on its lane when the route is no longer ordered", err)
	}
	got.Ack()
}

// A walk of the dead-letter channel opens a subscription, receives every
// message, nacks them and closes, and a redrive right after does the same:
// each walk must find every message at once, never one caught by the
// previous walk's pull and given back only after the ack wait.
func TestClosedSubscriptionLeavesEveryMessageToTheNext(t *testing.T) {
	for _, server := range []struct {
		name string
		open func(context.Context) (adapters.Driver, error)
	}{
		// Two lanes, so that an ordered walk has room for the unkeyed pull.
		{"external", func(ctx context.Context) (adapters.Driver, error) { return nats.Open(ctx, serverURL(t, "lanes=2")) }},
		{"embedded", func(ctx context.Context) (adapters.Driver, error) {
			return nats.OpenEmbedded(ctx, embeddedURL(t, "lanes=2"))
		}},
	} {
		t.Run(server.name, func(t *testing.T) {
			const n, walks = 5, 10
			b, name, ch := adaptertest.OpenChannel(t, server.open, "walk")
			ctx := t.Context()
			for i := range n {
				m := &adapters.Message{Body: []byte("x"), Metadata: map[string]string{"specversion": "1.0", "id": fmt.Sprintf("walk-%d", i), "source": "/t", "type": "t"}}
				if err := ch.Send(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			for walk := range walks {
				// Ordered, so the lanes' pulls run and end around Close too.
				sub, err := b.OpenSubscription(ctx, name, adapters.SubscriptionOptions{MaxInflight: n, Ordered: walk%2 == 1})
				if err != nil {
					t.Fatal(err)
				}
				var got []*adapters.Received
				for range n {
					rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					m, err := sub.Receive(rctx)
					cancel()
					if err != nil {
						_ = sub.Shutdown(context.Background())
						t.Fatalf("walk %d received %d of %d messages: %v: a message the previous walk gave back must be receivable at once, not after the ack wait (30 s)", walk, len(got), n, err)
					}
					got = append(got, m)
				}
				for _, m := range got {
					m.Nack()
				}
				if err := sub.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
