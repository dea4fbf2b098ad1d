package activemq_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/activemq"
	"github.com/eventbus-go/eventbus/adapters/adaptertest"
)

// brokerURL is the broker the tests use, from EVENTBUS_TEST_ACTIVEMQ, by
// default scripts/activemq.sh's, with query as its options.
func brokerURL(t *testing.T, query string) *url.URL {
	u := adaptertest.Server{
		Env:     "EVENTBUS_TEST_ACTIVEMQ",
		Default: "activemq://127.0.0.1:61613",
		Start:   "scripts/activemq.sh start",
		Open:    activemq.Open,
	}.URL(t)
	u.RawQuery = query
	return u
}

func TestConformance(t *testing.T) {
	u := brokerURL(t, "prefix=adaptertest")
	adaptertest.Run(t, adaptertest.Harness{
		Open: func(ctx context.Context) (adapters.Driver, error) { return activemq.Open(ctx, u) },
	})
}

// TestConformanceAcrossABrokerRestart runs the suite's outage subtest: it
// stops the broker scripts/activemq.sh runs and starts it again on the
// same store. It disturbs every other test using the broker, so it runs
// only with EVENTBUS_TEST_ACTIVEMQ_CTL=1, alone (scripts/test.sh does).
func TestConformanceAcrossABrokerRestart(t *testing.T) {
	if os.Getenv("EVENTBUS_TEST_ACTIVEMQ_CTL") != "1" {
		t.Skip("set EVENTBUS_TEST_ACTIVEMQ_CTL=1 to restart the broker of scripts/activemq.sh (it disturbs other tests: run this one alone)")
	}
	u := brokerURL(t, "prefix=adaptertest")
	script := func(cmd string) func(context.Context) error {
		return func(ctx context.Context) error {
			out, err := exec.CommandContext(ctx, "../../scripts/activemq.sh", cmd).CombinedOutput()
			if err != nil {
				return fmt.Errorf("scripts/activemq.sh %s: %v\n%s", cmd, err, out)
			}
			return nil
		}
	}
	adaptertest.Run(t, adaptertest.Harness{
		Open:   func(ctx context.Context) (adapters.Driver, error) { return activemq.Open(ctx, u) },
		Outage: &adaptertest.Outage{Stop: script("stop"), Start: script("resume")},
	})
}

func event1(id, key string) *adapters.Message {
	md := map[string]string{"specversion": "1.0", "id": id, "source": "/activemq-test", "type": "test", "datacontenttype": "application/json"}
	if key != "" {
		md[adapters.MetaOrderingKey] = key
	}
	return &adapters.Message{Body: []byte(`{"id":"` + id + `"}`), Metadata: md}
}

// openChannel opens a backend on u and a fresh channel on it, removed
// when the test ends.
func openChannel(t *testing.T, u *url.URL, name string) (*adapters.Backend, string, *adapters.Channel) {
	return adaptertest.OpenChannel(t, func(ctx context.Context) (adapters.Driver, error) { return activemq.Open(ctx, u) }, name)
}

// 1,000 events over 10 keys arrive in per-key order, one per key at a
// time, while every third first delivery of one key fails and is retried,
// and two subscriptions compete for the work: ActiveMQ's message groups
// keep each key on one subscription, which holds a key's next event until
// the one out is acked.
func TestKeysKeepOrderWhileOneKeyRetriesAcrossCompetingSubscriptions(t *testing.T) {
	const keys, perKey = 10, 100
	b, ch, top := openChannel(t, brokerURL(t, "prefix=eventbus-test"), "ordering")
	var subs []*adapters.Subscription
	for range 2 {
		sub, err := b.OpenSubscription(t.Context(), ch, adapters.SubscriptionOptions{MaxInflight: 20, Ordered: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Shutdown(context.Background()) })
		subs = append(subs, sub)
	}
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() {
			for i := range perKey {
				if err := top.Send(t.Context(), event1(fmt.Sprintf("k%d-%03d", k, i), fmt.Sprintf("k%d", k))); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	adaptertest.CheckPerKeyOrder(t, subs, keys, perKey)
	wg.Wait()
}

// A consumer that is not ours, stomp.py (Debian's python3-stomp), reads
// the bus's topic target and gets the CloudEvent in binary mode: ce-*
// headers, content-type and the data as the body.
func TestStompPyReadsTheTopic(t *testing.T) {
	u := brokerURL(t, "")
	if err := exec.Command("/usr/bin/python3", "-c", "import stomp").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-stomp: %v: CI installs it (scripts/test.sh)", err)
		}
		t.Skipf("python3-stomp is not installed for /usr/bin/python3: %v", err)
	}
	d, err := activemq.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	b, err := adapters.New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	name := fmt.Sprintf("eventbus-interop-%d", time.Now().UnixNano())
	top, err := b.OpenTopic(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = top.Shutdown(context.Background()) })

	reader := exec.CommandContext(t.Context(), "/usr/bin/python3", "testdata/read_topic.py", u.Hostname(), u.Port(), "/topic/"+name)
	reader.Stderr = os.Stderr
	stdout, err := reader.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reader.Process.Kill(); _ = reader.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "subscribed" {
		t.Fatalf("stomp.py did not subscribe: %q", lines.Text())
	}
	ev := adaptertest.GoldenEvent(t)
	m, err := adapters.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := top.Publish(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() {
		t.Fatalf("stomp.py printed no message: %v", lines.Err())
	}
	var got struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	if err := json.Unmarshal(lines.Bytes(), &got); err != nil {
		t.Fatalf("stomp.py printed %q: %v", lines.Text(), err)
	}
	want := map[string]string{
		"ce-id": ev.ID(), "ce-source": ev.Source(), "ce-type": ev.Type(), "ce-specversion": "1.0",
		"ce-subject": ev.Subject(), "ce-traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"content-type": "application/json",
	}
	for k, v := range want {
		if got.Headers[k] != v {
			t.Errorf("stomp.py read header %s = %q, want %q: a STOMP client reads the CloudEvent from ce-* headers", k, got.Headers[k], v)
		}
	}
	if got.Body != string(ev.Data()) {
		t.Errorf("stomp.py read body %q, want the event's data %q", got.Body, ev.Data())
	}
}
