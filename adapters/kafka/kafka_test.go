package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
	"github.com/eventbus-go/eventbus/adapters/kafka"
	"github.com/eventbus-go/eventbus/errcode"
)

// brokers is where the tests find Kafka: EVENTBUS_TEST_KAFKA (a kafka://
// URL or host:port), or else an in-process kfake cluster that TestMain
// starts, so these tests never skip.
var brokers string

func TestMain(m *testing.M) {
	brokers = os.Getenv("EVENTBUS_TEST_KAFKA")
	if brokers == "" {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, "starting kfake:", err)
			os.Exit(1)
		}
		brokers = strings.Join(c.ListenAddrs(), ",")
		code := m.Run()
		c.Close()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// brokerURL is a kafka:// URL for the test brokers with query as options.
func brokerURL(t *testing.T, query string) *url.URL {
	t.Helper()
	host := strings.TrimPrefix(brokers, kafka.Scheme+"://")
	host, _, _ = strings.Cut(host, "?")
	return &url.URL{Scheme: kafka.Scheme, Host: host, RawQuery: query}
}

func TestConformance(t *testing.T) {
	u := brokerURL(t, "partitions=3&max_message_bytes=262144")
	adaptertest.Run(t, adaptertest.Harness{
		Open: func(ctx context.Context) (adapters.Driver, error) { return kafka.Open(ctx, u) },
	})
}

func TestUnknownOptionIsRefused(t *testing.T) {
	_, err := kafka.Open(t.Context(), brokerURL(t, "partitons=4"))
	if errcode.Of(err) != errcode.InvalidArgument || !strings.Contains(err.Error(), "partitions") {
		t.Fatalf("Open with a misspelt option = %v, want invalid_argument listing the known options: a typo must not be ignored", err)
	}
}

// openChannel opens a backend on u and a fresh channel on it, removed
// when the test ends.
func openChannel(t *testing.T, u *url.URL, name string) (*adapters.Backend, string, *adapters.Channel) {
	return adaptertest.OpenChannel(t, func(ctx context.Context) (adapters.Driver, error) { return kafka.Open(ctx, u) }, name)
}

func subscribe(t *testing.T, b *adapters.Backend, ch string, inflight int) *adapters.Subscription {
	t.Helper()
	sub, err := b.OpenSubscription(t.Context(), ch, adapters.SubscriptionOptions{MaxInflight: inflight})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Shutdown(context.Background()) })
	return sub
}

func event(id, key string) *adapters.Message {
	md := map[string]string{"specversion": "1.0", "id": id, "source": "/kafka-test", "type": "test", "datacontenttype": "text/plain"}
	if key != "" {
		md[adapters.MetaOrderingKey] = key
	}
	return &adapters.Message{Body: []byte(id), Metadata: md}
}

func receive(t *testing.T, sub *adapters.Subscription) *adapters.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := sub.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return m
}

// Acks arrive out of order; the committed offset must stay below the
// first record not acked, so a restart re-delivers it (and, at least once,
// those acked after it) rather than skipping it.
func TestOutOfOrderAcksNeverCommitPastAnUnackedRecord(t *testing.T) {
	b, ch, top := openChannel(t, brokerURL(t, "partitions=1"), "acks")
	for _, id := range []string{"first", "second", "third"} {
		if err := top.Send(t.Context(), event(id, "")); err != nil {
			t.Fatal(err)
		}
	}
	sub := subscribe(t, b, ch, 3)
	var held []*adapters.Received
	for range 3 {
		held = append(held, receive(t, sub))
	}
	held[1].Ack()
	held[2].Ack()
	if err := sub.Shutdown(t.Context()); err != nil { // "first" still unacked
		t.Fatal(err)
	}
	if n, err := b.Depth(t.Context(), ch); err != nil || n != 3 {
		t.Fatalf("Depth = %d, %v; want 3: nothing may be committed past the unacked first record", n, err)
	}
	next := subscribe(t, b, ch, 3)
	if m := receive(t, next); m.Metadata["id"] != "first" {
		t.Fatalf("after a restart received %q first, want the unacked record %q", m.Metadata["id"], "first")
	}
}

// 1,000 events over 10 keys arrive in per-key order, one per key at a
// time, while every third first delivery of one key fails and is retried,
// and two subscriptions compete for the work.
func TestOrderingKeysKeepOrderWhileOneKeyRetries(t *testing.T) {
	const keys, perKey = 10, 100
	b, ch, top := openChannel(t, brokerURL(t, "partitions=4"), "ordering")
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() {
			for i := range perKey {
				if err := top.Send(t.Context(), event(fmt.Sprintf("k%d-%03d", k, i), fmt.Sprintf("k%d", k))); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	adaptertest.CheckPerKeyOrder(t, []*adapters.Subscription{subscribe(t, b, ch, 16), subscribe(t, b, ch, 16)}, keys, perKey)
}

// kcat, a Kafka client no one here wrote, reads a channel's topic and sees
// the event in the CloudEvents Kafka binding: ce_ headers, content-type,
// and the ordering key as the record key.
func TestKcatReadsTheCloudEventsBinding(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is not installed: CI must prove another Kafka client reads what the bus writes (apt-get install -y kcat)")
		}
		t.Skip("kcat is not installed (apt-get install -y kcat)")
	}
	_, ch, top := openChannel(t, brokerURL(t, "partitions=1"), "kcat")
	m := event("kcat-1", "customer-7")
	m.Metadata[adapters.MetaAttempts] = "2"
	if err := top.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", brokerURL(t, "").Host, "-C", "-t", kafka.DefaultPrefix+ch,
		"-o", "beginning", "-c", "1", "-e", "-J", "-q").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	var got struct {
		Key     string   `json:"key"`
		Payload string   `json:"payload"`
		Headers []string `json:"headers"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("kcat -J printed %q: %v", out, err)
	}
	headers := map[string]string{}
	for i := 0; i+1 < len(got.Headers); i += 2 {
		headers[got.Headers[i]] = got.Headers[i+1]
	}
	want := map[string]string{
		"ce_specversion": "1.0", "ce_id": "kcat-1", "ce_source": "/kafka-test", "ce_type": "test",
		"content-type": "text/plain", adapters.MetaAttempts: "2", adapters.MetaOrderingKey: "customer-7",
	}
	for k, v := range want {
		if headers[k] != v {
			t.Errorf("header %s = %q, want %q (all headers %v): CloudEvents Kafka consumers read these", k, headers[k], v, headers)
		}
	}
	if got.Key != "customer-7" || got.Payload != "kcat-1" {
		t.Errorf("key %q payload %q, want key customer-7 (the ordering key) and payload kcat-1", got.Key, got.Payload)
	}
}

// Two bus replicas are two members of the channel's consumer group: both
// get records (the partitions are shared), and when one leaves holding
// records, the other delivers everything, every key in order. (A member's
// share is whole partitions: with 64 keys every one of the 4 partitions has
// some.)
func TestReplicasSharePartitionsAndHandOverWhenOneLeaves(t *testing.T) {
	const keys, perKey = 64, 10
	u := brokerURL(t, "partitions=4")
	first, ch, top := openChannel(t, u, "replicas")
	d, err := kafka.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	second, err := adapters.New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Close() })
	for k := range keys {
		for i := range perKey {
			if err := top.Send(t.Context(), event(fmt.Sprintf("k%d-%03d", k, i), fmt.Sprintf("k%d", k))); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
	}
	leaving, staying := subscribe(t, first, ch, 16), subscribe(t, second, ch, 16)
	// The second member's share comes after a rebalance, which waits for
	// the records the first holds (up to 10 s): give it that.
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	var mu sync.Mutex
	got := map[*adapters.Subscription]*adapters.Received{}
	var wg sync.WaitGroup
	for _, sub := range []*adapters.Subscription{leaving, staying} {
		wg.Go(func() {
			m, err := sub.Receive(ctx)
			if err != nil {
				t.Errorf("a replica received nothing within 40s (%v): the group's partitions must be shared between its members", err)
				return
			}
			mu.Lock()
			got[sub] = m
			mu.Unlock()
			if sub == staying {
				m.Nack()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	held, other := got[leaving], got[staying]
	if held.Metadata[adapters.MetaOrderingKey] == other.Metadata[adapters.MetaOrderingKey] {
		t.Fatalf("both replicas held a record of key %s at once: a key belongs to one partition, held by one member", held.Metadata[adapters.MetaOrderingKey])
	}
	// The first replica goes while it holds a record, unacked.
	if err := leaving.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	adaptertest.CheckPerKeyOrder(t, []*adapters.Subscription{staying}, keys, perKey)
}
