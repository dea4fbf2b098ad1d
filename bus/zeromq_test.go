package bus_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters/zeromq"
	"github.com/eventbus-go/eventbus/adapters/zeromq/zeromqtest"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/internal/testnet"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// pythonZMQ returns Debian's python with pyzmq (libzmq), a ZeroMQ peer no
// one here wrote. Under CI its absence fails the test.
func pythonZMQ(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import zmq").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3-zmq is not installed: CI must prove a libzmq peer talks to the bus (apt-get install -y python3-zmq)")
		}
		t.Skip("python3-zmq is not installed (apt-get install -y python3-zmq)")
	}
	return py
}

// python runs script with args; its stdout lines arrive on the returned
// channel, and its stdin is returned for the test to write to.
func python(t *testing.T, script string, args ...string) (<-chan string, io.Writer) {
	t.Helper()
	cmd := exec.Command(pythonZMQ(t), append([]string{"-c", script}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines, in
}

func nextLine(t *testing.T, lines <-chan string, what string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("python exited before %s", what)
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s from python in 30s", what)
	}
	return ""
}

// A libzmq SUB socket subscribed to "order." connects to the bus's PUB
// target and receives exactly the events whose type starts with "order.",
// each as the topic frame then the event in structured mode.
const pySubscriber = `
import json, sys, zmq
s = zmq.Context().socket(zmq.SUB)
s.connect("tcp://" + sys.argv[1])
s.setsockopt(zmq.SUBSCRIBE, b"order.")
ready = False
while True:
    topic, body = s.recv_multipart()
    e = json.loads(body)
    if e["type"] == "order.warmup":
        if not ready:
            print("ready", flush=True)
            ready = True
        continue
    print(topic.decode() + " " + e["id"], flush=True)
    if e["type"] == "order.end":
        break
`

func TestAPythonSubscriberGetsExactlyTheEventsOfItsPrefix(t *testing.T) {
	addr := testnet.FreeAddr(t)
	srv := bustest.Start(t, bus.Config{Routes: []router.Route{{
		Name:   "zmq-out",
		Target: router.Target{Topic: &router.TopicTarget{URL: "zmq+tcp://" + addr}},
	}}})
	lines, _ := python(t, pySubscriber, addr)

	// Slow joiner: ZeroMQ drops what is published before the subscription
	// arrives, so warm up until the subscriber has seen one event.
	ready := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-ready:
				return
			case <-t.Context().Done(): // the test failed before python was ready
				return
			case <-time.After(50 * time.Millisecond):
				_, _, _ = bustest.PostEvent(srv.URL, fmt.Sprintf("warm-%d", i), map[string]string{"ce-type": "order.warmup"})
			}
		}
	}()
	if l := nextLine(t, lines, "the first warm-up event"); l != "ready" {
		t.Fatalf("python said %q; want ready", l)
	}
	close(ready)

	types := []string{"order.created", "user.signed_up", "orders.legacy", "order.paid", "invoice.sent"}
	var want []string
	for i := range 20 {
		for _, typ := range types {
			id := fmt.Sprintf("%s-%d", typ, i)
			bustest.Emit(t, srv.URL, id, map[string]string{"ce-type": typ})
			if strings.HasPrefix(typ, "order.") {
				want = append(want, typ+" "+id)
			}
		}
	}
	// The end marker is emitted once every other event was delivered, so
	// nothing may arrive after it.
	testkit.EventuallyNoError(t, 30*time.Second, func() error {
		st, err := srv.Bus.Stats(context.Background(), "zmq-out")
		if err != nil {
			return err
		}
		if st.Depth != 0 || st.Inflight != 0 {
			return fmt.Errorf("depth %d, in flight %d", st.Depth, st.Inflight)
		}
		return nil
	})
	bustest.Emit(t, srv.URL, "end", map[string]string{"ce-type": "order.end"})
	want = append(want, "order.end end")

	var got []string
	for {
		l := nextLine(t, lines, "an order event")
		got = append(got, l)
		if l == "order.end end" {
			break
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the order. subscriber got %d events:\n%s\nwant exactly these %d:\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
}

// A libzmq PUB socket (SNDHWM=0: it must not drop on its side) publishes
// structured CloudEvents; the bus's source subscribed to "quote." stores
// exactly those on its bus, where a route delivers them to a webhook.
const pyPublisher = `
import json, sys, threading, zmq
s = zmq.Context().socket(zmq.PUB)
s.setsockopt(zmq.SNDHWM, 0)
s.bind("tcp://" + sys.argv[1])
go = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), go.set()), daemon=True).start()
def event(t, i):
    return json.dumps({"specversion": "1.0", "id": t + "-" + str(i), "source": "python", "type": t, "data": {"n": i}}).encode()
i = 0
while not go.wait(0.05):
    s.send_multipart([b"quote.warmup", event("quote.warmup", i)])
    i += 1
for i in range(200):
    s.send_multipart([b"quote.AAPL", event("quote.AAPL", i)])
    s.send_multipart([b"trade.AAPL", event("trade.AAPL", i)])
s.send_multipart([b"quote.x", b"not json"])
print("sent", flush=True)
sys.stdin.readline()
`

func TestAPythonPublisherFeedsTheBusThroughASource(t *testing.T) {
	addr := testnet.FreeAddr(t)
	lines, stdin := python(t, pyPublisher, addr)
	hook := bustest.NewWebhook(t, nil)
	srv := bustest.Start(t, bus.Config{
		Routes: []router.Route{{
			Name:   "quotes",
			Match:  json.RawMessage(`{"type": ["quote.AAPL", "trade.AAPL"]}`),
			Target: router.Target{HTTP: &router.HTTPTarget{URL: hook.URL}},
		}},
		Sources: []bus.SourceConfig{{
			Name:   "feed",
			ZeroMQ: &bus.ZeroMQSource{Endpoints: []string{"zmq+tcp://" + addr}, Subscribe: []string{"quote."}},
		}},
	})
	testkit.EventuallyNoError(t, 30*time.Second, func() error {
		st, _, err := srv.Bus.SourceStats("feed")
		if err != nil {
			return err
		}
		if st.Ingested == 0 {
			return errors.New("no warm-up event ingested yet")
		}
		return nil
	})
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	if l := nextLine(t, lines, "sent"); l != "sent" {
		t.Fatalf("python said %q", l)
	}
	got := hook.WaitFor(t, 200)
	testkit.EventuallyNoError(t, 30*time.Second, func() error {
		st, _, err := srv.Bus.SourceStats("feed")
		if err != nil {
			return err
		}
		if st.Malformed != 1 {
			return fmt.Errorf("malformed %d; want 1 (the frame that is not JSON)", st.Malformed)
		}
		return nil
	})
	_, scrape := do(t, "GET", srv.URL+"/metrics", "")
	for _, want := range []string{
		`eventbus_source_messages_total{bus="default",outcome="malformed",source="feed"} 1`,
		`eventbus_source_publishers{bus="default",source="feed"} 1`,
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("/metrics lacks %s: an operator alerts on what a source drops", want)
		}
	}
	ids := map[string]bool{}
	for _, d := range got {
		if typ := d.Header.Get("Ce-Type"); typ != "quote.AAPL" {
			t.Fatalf("delivered a %q event: the source subscribed to quote. only", typ)
		}
		ids[d.Header.Get("Ce-Id")] = true
	}
	if len(ids) != 200 {
		t.Fatalf("got %d distinct quote events; want all 200", len(ids))
	}
	if n := len(hook.Deliveries()); n != 200 {
		t.Fatalf("%d deliveries; want 200", n)
	}
}

func TestZeroMQTargetsAreCheckedWhenSaved(t *testing.T) {
	srv := bustest.Start(t, bus.Config{})
	ctx := context.Background()
	addr := testnet.FreeAddr(t)
	put := func(name, url string, z *router.ZeroMQTopic) error {
		_, _, err := srv.Bus.PutRoute(ctx, router.Route{Name: name, Target: router.Target{Topic: &router.TopicTarget{URL: url, ZeroMQ: z}}}, store.AnyVersion)
		return err
	}
	field := func(err error) string {
		var fe *spec.FieldError
		if errors.As(err, &fe) {
			return fe.Path
		}
		return fmt.Sprint("no field error: ", err)
	}
	for _, c := range []struct {
		name, url string
		z         *router.ZeroMQTopic
		field     string
	}{
		{"no port", "zmq+tcp://127.0.0.1", nil, "target.topic.url"},
		{"unknown option", "zmq+tcp://" + addr + "?linger=1", nil, "target.topic.url"},
		{"connect without a host", "zmq+tcp://:0?connect=true", nil, "target.topic.url"},
		{"negative hwm", "zmq+tcp://" + addr, &router.ZeroMQTopic{HWM: -1}, "target.topic.zeromq.hwm"},
		{"unknown when_full", "zmq+tcp://" + addr, &router.ZeroMQTopic{WhenFull: "spill"}, "target.topic.zeromq.when_full"},
		{"unknown placeholder", "zmq+tcp://" + addr, &router.ZeroMQTopic{TopicFrame: "{datacontenttype}"}, "target.topic.zeromq.topic_frame"},
	} {
		if got := field(put("bad", c.url, c.z)); got != c.field {
			t.Errorf("%s: refused at %q; want a field error at %s", c.name, got, c.field)
		}
	}
	if err := put("first", "zmq+tcp://"+addr, nil); err != nil {
		t.Fatal(err)
	}
	if got := field(put("second", "zmq+tcp://"+addr, nil)); got != "target.topic.url" {
		t.Errorf("a second route binding the same address: %s; want a field error at target.topic.url", got)
	}
	// Replacing the route that binds rebinds the same address.
	if err := put("first", "zmq+tcp://"+addr, &router.ZeroMQTopic{WhenFull: router.ZeroMQDrop}); err != nil {
		t.Fatalf("replacing the route that binds %s: %v", addr, err)
	}
	// Deleting it frees the address.
	if err := srv.Bus.DeleteRoute(ctx, "first", store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyNoError(t, 10*time.Second, func() error {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
		}
		return err
	})
}

// With when_full: drop, a subscriber that stopped reading costs the route
// nothing: every event is still delivered (acked) and reaches the healthy
// subscriber, and each copy the stalled one missed shows in the route's
// stats as subscriber_drops.
func TestADroppingZeroMQTargetCountsDropsAndKeepsDelivering(t *testing.T) {
	addr := testnet.FreeAddr(t)
	srv := bustest.Start(t, bus.Config{Routes: []router.Route{{
		Name:   "zmq-drop",
		Target: router.Target{Topic: &router.TopicTarget{URL: "zmq+tcp://" + addr, ZeroMQ: &router.ZeroMQTopic{HWM: 10, WhenFull: router.ZeroMQDrop}}},
	}}})
	healthy := make(chan string, 100_000)
	sub, err := zeromq.NewSubscriber(zeromq.SubscriberOptions{Endpoints: []string{addr}}, func(_ context.Context, frames [][]byte) {
		healthy <- string(frames[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	zeromqtest.StalledSubscriber(t, addr)
	// Warm up until the healthy subscriber hears the bus. Each warm-up
	// event has its own id: a repeated one would be deduplicated, and the
	// first may go out before the subscription arrives.
	warm := 0
	testkit.Eventually(t, 30*time.Second, "the healthy subscriber receives", func() bool {
		warm++
		_, _, _ = bustest.PostEvent(srv.URL, fmt.Sprintf("warm-%d", warm), map[string]string{"ce-type": "warm"})
		select {
		case <-healthy:
			return true
		default:
			return false
		}
	})
	big := strings.Repeat("x", 32<<10)
	const n = 400 // 13 MB: more than the stalled subscriber's socket buffers
	for i := range n {
		req := map[string]string{"ce-type": "big", "ce-subject": big}
		bustest.Emit(t, srv.URL, fmt.Sprintf("big-%d", i), req)
		// Pace to the healthy subscriber: only the stalled one may fill.
		select {
		case <-healthy:
		case <-time.After(30 * time.Second):
			t.Fatalf("event %d did not reach the healthy subscriber", i)
		}
	}
	testkit.EventuallyNoError(t, 30*time.Second, func() error {
		st, err := srv.Bus.Stats(context.Background(), "zmq-drop")
		if err != nil {
			return err
		}
		if st.Delivered != st.Accepted || st.Depth != 0 {
			return fmt.Errorf("accepted %d, delivered %d, depth %d: a stalled subscriber must not hold the route back", st.Accepted, st.Delivered, st.Depth)
		}
		if st.SubscriberDrops == 0 {
			return errors.New("subscriber_drops is 0: the stalled subscriber's misses must be counted")
		}
		return nil
	})
	_, scrape := do(t, "GET", srv.URL+"/metrics", "")
	if strings.Contains(scrape, `eventbus_route_subscriber_drops_total{route="zmq-drop"} 0`) || !strings.Contains(scrape, `eventbus_route_subscriber_drops_total{route="zmq-drop"}`) {
		t.Errorf("/metrics does not count the stalled subscriber's misses in eventbus_route_subscriber_drops_total")
	}
}

func TestASourceConfigIsCheckedFieldByField(t *testing.T) {
	cfg := bus.Config{Sources: []bus.SourceConfig{
		{Name: "ok", ZeroMQ: &bus.ZeroMQSource{Endpoints: []string{"zmq+tcp://127.0.0.1:5557"}}},
		{Name: "ok", Bus: "nowhere", ZeroMQ: &bus.ZeroMQSource{Endpoints: []string{"tcp://127.0.0.1:5557"}}, Wrap: &bus.WrapConfig{Type: "t"}},
		{Name: "none"},
	}}
	var paths []string
	for _, err := range spec.Flatten(cfg.Validate()) {
		var fe *spec.FieldError
		if errors.As(err, &fe) {
			paths = append(paths, fe.Path)
		}
	}
	slices.Sort(paths)
	want := []string{"sources[1].bus", "sources[1].name", "sources[1].wrap.source", "sources[1].zeromq.endpoints[0]", "sources[2].zeromq"}
	if !slices.Equal(paths, want) {
		t.Fatalf("field errors at %q; want exactly %q", paths, want)
	}
}

// ZeroMQ has no acks: while the bus cannot take a source's event (here a
// full route), the source retries it for max_wait, then counts it lost.
func TestASourceCountsWhatTheBusCouldNotTakeAsLost(t *testing.T) {
	feed, err := zeromq.NewPublisher(zeromq.PublisherOptions{Addr: "127.0.0.1:0", HWM: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = feed.Close() })
	srv := bustest.Start(t, bus.Config{
		Routes: []router.Route{{
			Name:     "full",
			Paused:   true, // keeps what it stores: after one event it is full
			Target:   router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:1/"}},
			Delivery: router.Delivery{MaxDepth: 1},
		}},
		Sources: []bus.SourceConfig{{
			Name:    "feed",
			ZeroMQ:  &bus.ZeroMQSource{Endpoints: []string{"zmq+tcp://" + feed.Addr()}},
			Wrap:    &bus.WrapConfig{Type: "tick", Source: "/feed"},
			MaxWait: spec.Duration(300 * time.Millisecond),
		}},
	})
	testkit.Eventually(t, 20*time.Second, "the source subscribed", func() bool {
		return slices.Equal(feed.Subscriptions(), []string{""})
	})
	for i := range 3 {
		if _, err := feed.Publish(t.Context(), "t", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.EventuallyNoError(t, 20*time.Second, func() error {
		st, _, err := srv.Bus.SourceStats("feed")
		if err != nil {
			return err
		}
		if st.Received != 3 || st.Ingested != 1 || st.Lost != 2 || st.Malformed != 0 {
			return fmt.Errorf("%+v; want 3 received, 1 ingested (the route holds one), 2 lost after max_wait", st)
		}
		return nil
	})
}
