package adaptertest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
)

func testRoundTrip(t *testing.T, e *env) {
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{})

	data := make([]byte, 0, 258)
	for b := range 256 {
		data = append(data, byte(b))
	}
	data = append(data, 0, 0xff) // trailing zero and 0xff bytes survive too
	want := event.New(event.CloudEventsVersionV1)
	want.SetID("round-trip-1")
	want.SetSource("https://example.com/shop/orders?region=eu")
	want.SetType("com.example.order.created")
	want.SetSubject("orders/42 ü") // non-ASCII must survive header encodings
	want.SetTime(time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC))
	want.SetDataSchema("https://example.com/schemas/order.json")
	want.SetDataContentType("application/octet-stream")
	want.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	want.SetExtension("partitionkey", "customer-7")
	want.SetExtension("attempt", 3)
	want.SetExtension("urgent", true)
	want.DataEncoded = data

	m, err := adapters.EncodeEvent(&want)
	if err != nil {
		t.Fatalf("EncodeEvent: %v", err)
	}
	send(t, top, m)
	r := receive(t, sub, "a published event must be delivered")
	r.Ack()
	got, err := adapters.DecodeEvent(r)
	if err != nil {
		t.Fatalf("DecodeEvent of the delivered message: %v (metadata %v)", err, r.Metadata)
	}

	for _, c := range []struct{ attr, got, want string }{
		{"specversion", got.SpecVersion(), want.SpecVersion()},
		{"id", got.ID(), want.ID()},
		{"source", got.Source(), want.Source()},
		{"type", got.Type(), want.Type()},
		{"subject", got.Subject(), want.Subject()},
		{"time", got.Time().Format(time.RFC3339Nano), want.Time().Format(time.RFC3339Nano)},
		{"dataschema", got.DataSchema(), want.DataSchema()},
		{"datacontenttype", got.DataContentType(), want.DataContentType()},
	} {
		if c.got != c.want {
			t.Errorf("attribute %s = %q, want %q: a consumer must see the event its producer sent", c.attr, c.got, c.want)
		}
	}
	for name, v := range want.Extensions() {
		wantV, _ := types.Format(v)
		gotV, err := types.Format(got.Extensions()[name])
		if err != nil || gotV != wantV {
			t.Errorf("extension %s = %q (%v), want %q: extensions carry tracing and routing keys", name, gotV, err, wantV)
		}
	}
	if len(got.Extensions()) != len(want.Extensions()) {
		t.Errorf("extensions %v, want exactly %v: the backend must not add or drop metadata", got.Extensions(), want.Extensions())
	}
	if !bytes.Equal(got.Data(), data) {
		t.Errorf("data is %d bytes %q, want the %d bytes sent: binary payloads must not be re-encoded", len(got.Data()), got.Data(), len(data))
	}
}

// testSendEvent checks Channel.SendEvent, ingress's path: an event and
// the bus's stamp arrive exactly as EncodeStamped sent with Send does,
// whether the driver stores them itself (EventSender) or not.
func testSendEvent(t *testing.T, e *env) {
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	// Keyed, when the backend keeps order, as an ordered route's events are
	// (received one at a time).
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{MaxInflight: 2, Ordered: e.caps.Ordering})
	ev := event.New(event.CloudEventsVersionV1)
	ev.SetSource("/adaptertest/stamped")
	ev.SetType("dev.eventbus.adaptertest")
	ev.SetSubject("orders/42")
	ev.SetTime(time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC))
	ev.SetExtension("partitionkey", "customer-7")
	if err := ev.SetData(event.ApplicationJSON, []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	stamp := adapters.Stamp{AcceptedAt: time.UnixMilli(1765000000123)}
	if e.caps.Ordering {
		stamp.OrderingKey = "customer-7"
	}
	ev.SetID("stamped-send")
	m, err := adapters.EncodeStamped(&ev, stamp)
	if err != nil {
		t.Fatalf("EncodeStamped: %v", err)
	}
	send(t, top, m)
	ev.SetID("stamped-send-event")
	if err := top.SendEvent(stepCtx(t), &ev, stamp); err != nil {
		t.Fatalf("SendEvent: %v (a publish the backend refuses is an event the bus cannot accept)", err)
	}
	got := map[string]*adapters.Received{}
	for range 2 {
		r := receive(t, sub, "an event sent either way must be delivered")
		r.Ack()
		got[r.Metadata["id"]] = r
	}
	sent, stored := got["stamped-send"], got["stamped-send-event"]
	if sent == nil || stored == nil {
		t.Fatalf("received ids %v, want stamped-send and stamped-send-event", slices.Collect(maps.Keys(got)))
	}
	want := maps.Clone(sent.Metadata)
	want["id"] = "stamped-send-event"
	if !maps.Equal(stored.Metadata, want) {
		t.Errorf("SendEvent's message arrives with metadata\n%v\nSend's with\n%v: a driver storing events itself must store what Send would", stored.Metadata, sent.Metadata)
	}
	if !bytes.Equal(stored.Body, sent.Body) {
		t.Errorf("SendEvent's body %q, Send's %q", stored.Body, sent.Body)
	}
}

func testAckRemoves(t *testing.T, e *env) {
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	sendIDs(t, top, "acked")
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{})
	receive(t, sub, "a published message must be delivered").Ack()
	if err := sub.Shutdown(stepCtx(t)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	e.depthIs(t, ch, 0, "an acked message is done and must leave the channel")

	// The next subscriber sees the marker, not the acked message again.
	sendIDs(t, top, "marker")
	next := e.subscription(t, ch, adapters.SubscriptionOptions{})
	m := receive(t, next, "the marker published after the ack must be delivered")
	m.Ack()
	if id := m.Metadata["id"]; id != "marker" {
		t.Fatalf("received %q after its ack, want the marker: an acked event must not be delivered again", id)
	}
}

func testNackRedelivers(t *testing.T, e *env) {
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{})
	sendIDs(t, top, "nacked")
	// The bus retries a failed delivery by nacking it: OpenSubscription
	// refuses a driver subscription that cannot nack.
	first := receive(t, sub, "a published message must be delivered")
	first.Nack()
	again := receive(t, sub, "a nacked message must be delivered again")
	again.Ack()
	if id := again.Metadata["id"]; id != "nacked" {
		t.Fatalf("after a nack received %q, want %q again: a failed delivery must be retried", id, "nacked")
	}
}

func testUnackedRedelivered(t *testing.T, e *env) {
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	want := ids("unacked", 5)
	sendIDs(t, top, want...)

	first := e.subscription(t, ch, adapters.SubscriptionOptions{MaxInflight: len(want)})
	held := make([]*adapters.Received, len(want))
	for i := range held {
		held[i] = receive(t, first, "every published message must be delivered")
	}
	if err := first.Shutdown(stepCtx(t)); err != nil {
		t.Fatalf("Shutdown with %d messages unacked: %v", len(held), err)
	}
	for _, m := range held {
		m.Ack() // too late: the subscription is gone, so this must not count
	}

	second := e.subscription(t, ch, adapters.SubscriptionOptions{})
	var got []string
	for range want {
		m := receive(t, second, "messages unacked when their subscriber stopped must go to the next one (at-least-once across a restart)")
		got = append(got, m.Metadata["id"])
		m.Ack()
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("the restarted subscriber got %v, want %v: events in flight at a restart must not be lost", got, want)
	}
}

func testCompetingConsumers(t *testing.T, e *env) {
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	one := adapters.SubscriptionOptions{MaxInflight: 1}
	a := e.subscription(t, ch, one)
	b := e.subscription(t, ch, one)

	// While a holds one message, b must be able to take all the others.
	held := ids("held", 10)
	sendIDs(t, top, held...)
	seen := map[string]int{}
	m := receive(t, a, "a subscriber must receive from a channel with messages")
	seen[m.Metadata["id"]]++
	for range len(held) - 1 {
		mb := receive(t, b, "a second subscriber must take the work the first cannot hold (MaxInflight 1)")
		seen[mb.Metadata["id"]]++
		mb.Ack()
	}
	m.Ack()
	for _, id := range held {
		if seen[id] != 1 {
			t.Fatalf("message %s received %d times across both subscribers, want once: with no failure each message goes to exactly one consumer (seen %v)", id, seen[id], seen)
		}
	}

	// Both consuming at once: nothing is lost.
	shared := ids("shared", 40)
	sendIDs(t, top, shared...)
	var mu sync.Mutex
	got := map[string]bool{}
	ctx, cancel := context.WithTimeout(t.Context(), settleTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, sub := range []*adapters.Subscription{a, b} {
		wg.Go(func() {
			for ctx.Err() == nil {
				m, err := sub.Receive(ctx)
				if err != nil {
					return
				}
				m.Ack()
				mu.Lock()
				got[m.Metadata["id"]] = true
				if len(got) == len(shared) {
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, id := range shared {
		if !got[id] {
			t.Fatalf("message %s never received by either competing subscriber within %v: competing consumers must not lose work", id, settleTimeout)
		}
	}
}

func testDepth(t *testing.T, e *env) {
	ch := e.channel(t)
	e.depthIs(t, ch, 0, "a new channel is empty")
	top := e.sendTo(t, ch)
	sendIDs(t, top, ids("depth", 5)...)
	e.depthIs(t, ch, 5, "every published message waits in the channel; admission control reads this")

	sub := e.subscription(t, ch, adapters.SubscriptionOptions{MaxInflight: 2})
	for range 2 {
		receive(t, sub, "a published message must be delivered").Ack()
	}
	if err := sub.Shutdown(stepCtx(t)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	e.depthIs(t, ch, 3, "two of five were acked; with nothing in flight the other three wait")
}

func testPurge(t *testing.T, e *env) {
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	sendIDs(t, top, ids("purged", 3)...)
	e.depthIs(t, ch, 3, "three messages were published")
	if err := e.b.Purge(stepCtx(t), ch); err != nil {
		t.Fatalf("Purge(%q): %v", ch, err)
	}
	e.depthIs(t, ch, 0, "Purge removes every waiting message")

	sendIDs(t, top, "marker")
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{})
	m := receive(t, sub, "a message published after a purge must be delivered")
	m.Ack()
	if id := m.Metadata["id"]; id != "marker" {
		t.Fatalf("received %q, want the marker published after Purge: purged messages must never be delivered", id)
	}
}

func testDelete(t *testing.T, e *env) {
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{})
	sendIDs(t, top, "before-delete")
	ctx := stepCtx(t)
	if err := e.b.DeleteChannel(ctx, ch); err != nil {
		t.Fatalf("DeleteChannel(%q): %v", ch, err)
	}
	if err := e.b.DeleteChannel(ctx, ch); err != nil {
		t.Fatalf("DeleteChannel(%q) a second time: %v; want no error, so deleting a route can be retried", ch, err)
	}

	const why = "a deleted route's channel must say so, not swallow events or wait forever"
	_, err := e.b.Depth(ctx, ch)
	wantCode(t, "Depth after delete", err, errcode.NotFound, why)
	wantCode(t, "Purge after delete", e.b.Purge(ctx, ch), errcode.NotFound, why)
	_, err = e.b.OpenChannel(ctx, ch)
	wantCode(t, "OpenChannel after delete", err, errcode.NotFound, why)
	_, err = e.b.OpenSubscription(ctx, ch, adapters.SubscriptionOptions{})
	wantCode(t, "OpenSubscription after delete", err, errcode.NotFound, why)
	wantCode(t, "Send on a channel opened before delete", top.Send(ctx, message("after-delete", nil)), errcode.NotFound, why)

	rctx, cancel := context.WithTimeout(ctx, receiveTimeout)
	defer cancel()
	for {
		m, err := sub.Receive(rctx)
		if err != nil {
			wantCode(t, "Receive on a subscription opened before delete", err, errcode.NotFound, why)
			break
		}
		// A message the subscription fetched before the delete may still
		// come out; nothing after it may.
		m.Ack()
	}
}

func testMaxMessageSize(t *testing.T, e *env) {
	limit := e.caps.MaxMessageBytes
	if limit <= 0 {
		t.Fatalf("Capabilities.MaxMessageBytes = %d: every backend must declare its limit so ingress can refuse oversized events with 413", limit)
	}
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{})

	largest := message("largest", nil)
	largest.Body = bytes.Repeat([]byte{'x'}, limit-adapters.MessageBytes(nil, largest.Metadata))
	if n := adapters.MessageBytes(largest.Body, largest.Metadata); n != limit {
		t.Fatalf("test bug: built a message of %d bytes, want %d", n, limit)
	}
	send(t, top, largest)
	m := receive(t, sub, "a message of exactly MaxMessageBytes must be accepted and delivered")
	m.Ack()
	if !bytes.Equal(m.Body, largest.Body) {
		t.Fatalf("the largest message came back with %d body bytes, want %d", len(m.Body), len(largest.Body))
	}

	over := message("over", nil)
	over.Body = bytes.Repeat([]byte{'x'}, limit+1-adapters.MessageBytes(nil, over.Metadata))
	err := top.Send(stepCtx(t), over)
	wantCode(t, "Send of MaxMessageBytes+1", err, errcode.InvalidArgument,
		"an oversized event is the producer's mistake (413), not something to retry")
	if !strings.Contains(err.Error(), strconv.Itoa(limit)) {
		t.Errorf("error %q does not state the limit %d: the producer needs it to fix the event", err, limit)
	}

	sendIDs(t, top, "marker")
	next := receive(t, sub, "the channel must keep working after a refused message")
	next.Ack()
	if id := next.Metadata["id"]; id != "marker" {
		t.Fatalf("received %q, want the marker: a refused message must not be stored", id)
	}
}

func testConcurrentPublishers(t *testing.T, e *env) {
	ch := e.channel(t)
	const topics, perTopic, each = 4, 2, 25 // publishers share a topic, as ingress does
	var want []string
	var wg sync.WaitGroup
	errs := make(chan error, topics*perTopic*each)
	for i := range topics {
		top := e.sendTo(t, ch)
		for j := range perTopic {
			batch := ids(fmt.Sprintf("pub-%d-%d", i, j), each)
			want = append(want, batch...)
			wg.Go(func() {
				for _, id := range batch {
					if err := top.Send(t.Context(), message(id, []byte(id))); err != nil {
						errs <- fmt.Errorf("Send(%s): %w", id, err)
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%v: concurrent publishers must each get their event stored", err)
	}
	if t.Failed() {
		t.FailNow()
	}

	sub := e.subscription(t, ch, adapters.SubscriptionOptions{MaxInflight: 64})
	got := map[string]bool{}
	for len(got) < len(want) {
		m := receive(t, sub, fmt.Sprintf("all %d confirmed messages must be delivered (have %d)", len(want), len(got)))
		got[m.Metadata["id"]] = true
		m.Ack()
	}
	for _, id := range want {
		if !got[id] {
			t.Fatalf("message %s was confirmed but never delivered: a confirmed publish is a promise", id)
		}
	}
}

func testShutdownTwice(t *testing.T, e *env) {
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	sendIDs(t, top, ids("inflight", 3)...)
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{MaxInflight: 3})
	var held []*adapters.Received
	for range 3 {
		held = append(held, receive(t, sub, "a published message must be delivered"))
	}
	// A receiver blocked on an empty channel must be released by Shutdown.
	blocked := make(chan error, 1)
	go func() {
		_, err := sub.Receive(t.Context())
		blocked <- err
	}()

	if err := sub.Shutdown(stepCtx(t)); err != nil {
		t.Fatalf("first Shutdown with 3 deliveries in flight: %v", err)
	}
	select {
	case err := <-blocked:
		if err == nil {
			t.Fatal("a Receive blocked during Shutdown returned a message and no error, want an error")
		}
	case <-time.After(receiveTimeout):
		t.Fatalf("a Receive blocked during Shutdown still waits after %v: shutdown must release receivers", receiveTimeout)
	}
	for _, m := range held {
		m.Nack() // after Shutdown: must neither panic nor reach the backend
	}
	// Shutdown paths run twice (a route replaced while the bus stops): a
	// second Shutdown must be harmless.
	if err := sub.Shutdown(stepCtx(t)); err != nil {
		t.Fatalf("second Shutdown: %v, want nil: shutdown paths run twice", err)
	}
	if err := top.Shutdown(stepCtx(t)); err != nil {
		t.Fatalf("channel Shutdown: %v", err)
	}
	if err := top.Shutdown(stepCtx(t)); err != nil {
		t.Fatalf("second channel Shutdown: %v, want nil", err)
	}
	wantCode(t, "Send after Shutdown", top.Send(stepCtx(t), message("late", nil)), errcode.FailedPrecondition,
		"a channel shut down must refuse, not store, what comes late")
	e.depthIs(t, ch, 3, "the three deliveries in flight at Shutdown must be back in the channel")
}

// testDeadLetterChannel checks what the bus's dead-lettering needs of every
// backend: a channel named <channel>.dlq to which the bus moves a message it
// gives up on (publishes a copy, then acks the original) keeps it with its
// metadata; a listing, which looks and nacks, leaves it there; a redrive,
// which acks, removes it.
func testDeadLetterChannel(t *testing.T, e *env) {
	ch := e.channel(t)
	dlq := ch + router.DeadLetterSuffix
	if err := e.b.EnsureChannel(stepCtx(t), dlq); err != nil {
		t.Fatalf("EnsureChannel(%q): %v; the bus provisions every route's dead-letter channel under this name", dlq, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
		defer cancel()
		if err := e.b.DeleteChannel(ctx, dlq); err != nil {
			t.Errorf("cleanup: DeleteChannel(%q): %v", dlq, err)
		}
	})
	send(t, e.sendTo(t, ch), message("doomed", []byte("doomed")))
	orig := receive(t, e.subscription(t, ch, adapters.SubscriptionOptions{}), "a published message must be delivered")
	moved := &adapters.Message{Body: orig.Body, Metadata: maps.Clone(orig.Metadata)}
	moved.Metadata[adapters.MetaAttempts] = "3"
	send(t, e.sendTo(t, dlq), moved)
	orig.Ack()
	e.depthIs(t, ch, 0, "a dead-lettered message is acked on its channel and must leave it")

	reader := e.subscription(t, dlq, adapters.SubscriptionOptions{})
	m := receive(t, reader, "a dead letter must be readable on <channel>.dlq")
	if id, attempts := m.Metadata["id"], m.Metadata[adapters.MetaAttempts]; id != "doomed" || attempts != "3" || string(m.Body) != "doomed" {
		t.Fatalf("dead letter id %q, attempts %q, body %q; want doomed, 3, doomed: a dead letter keeps the event and why it was given up", id, attempts, m.Body)
	}
	m.Nack() // listing the dead letters looks and puts back
	again := receive(t, reader, "a dead letter a listing put back must still be there")
	if id := again.Metadata["id"]; id != "doomed" {
		t.Fatalf("after a listing received %q, want the dead letter doomed again", id)
	}
	again.Ack() // a redrive takes it away
	e.depthIs(t, dlq, 0, "a redriven dead letter must leave the dead-letter channel")
}

// testOrderingKey checks what Capabilities.Ordering promises: messages
// with the same MetaOrderingKey come one at a time, in publish order, the
// next only once the previous is acked, while other keys flow.
func testOrderingKey(t *testing.T, e *env) {
	if !e.caps.Ordering {
		t.Skip("Capabilities.Ordering is false: the bus keeps order itself or refuses ordered routes")
	}
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	keyed := func(id, key string) *adapters.Message {
		m := message(id, nil)
		m.Metadata[adapters.MetaOrderingKey] = key
		return m
	}
	send(t, top, keyed("a-0", "a"), keyed("a-1", "a"), keyed("b-0", "b"))
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{MaxInflight: 8, Ordered: true})

	first := receive(t, sub, "the head of each key's lane must be delivered")
	second := receive(t, sub, "another key must flow while the first is held")
	if got := first.Metadata["id"] + "," + second.Metadata["id"]; got != "a-0,b-0" && got != "b-0,a-0" {
		t.Fatalf("first two deliveries %s, want a-0 and b-0: a-1 must wait until a-0 is acked", got)
	}
	first.Ack()
	second.Ack()
	next := receive(t, sub, "a-1 must follow once a-0 is acked")
	if id := next.Metadata["id"]; id != "a-1" {
		t.Fatalf("received %s, want a-1: same-key events must come in publish order", id)
	}
	next.Ack()
}

// testDeliverAt checks what Capabilities.Delay promises: a message with
// MetaDeliverAt is not delivered before then, and it holds back no message
// published after it that is due sooner. (Between the two sooner ones no
// order is asked: on a loaded machine "soon" may be due before "now" is
// even stored.)
func testDeliverAt(t *testing.T, e *env) {
	if !e.caps.Delay {
		t.Skip("Capabilities.Delay is false: the bus holds retries itself and refuses delayed routes")
	}
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	const wait = 2500 * time.Millisecond
	due := map[string]time.Time{"later": time.Now().Add(wait), "soon": time.Now().Add(300 * time.Millisecond)}
	later := message("later", nil)
	later.Metadata[adapters.MetaDeliverAt] = strconv.FormatInt(due["later"].UnixMilli(), 10)
	soon := message("soon", nil)
	soon.Metadata[adapters.MetaDeliverAt] = strconv.FormatInt(due["soon"].UnixMilli(), 10)
	send(t, top, later, soon, message("now", nil))
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{})

	got := map[string]bool{}
	for range 3 {
		m := receive(t, sub, "a delayed message must be delivered once due")
		m.Ack()
		id := m.Metadata["id"]
		got[id] = true
		if id == "later" && len(got) < 3 {
			t.Fatalf("received later before %v: a delayed message must not hold back those due sooner", got)
		}
		if at, delayed := due[id]; delayed && time.Now().Before(at.Truncate(time.Millisecond)) {
			t.Fatalf("%s delivered %v before its %s: a delayed message must wait until it is due", id, time.Until(at), adapters.MetaDeliverAt)
		}
	}
	if len(got) != 3 {
		t.Fatalf("received %v; want now, soon and later once each", got)
	}
}

// testDropOldest checks what Capabilities.DropOldest promises, for routes
// whose overflow policy is drop-oldest: the oldest waiting message goes,
// the others stay in order, and an empty channel has nothing to drop. A
// backend that does not declare it must refuse rather than do nothing.
func testDropOldest(t *testing.T, e *env) {
	ch := e.channel(t)
	if !e.caps.DropOldest {
		_, err := e.b.DropOldest(stepCtx(t), ch)
		wantCode(t, "DropOldest without Capabilities.DropOldest", err, errcode.FailedPrecondition,
			"a backend that cannot drop its oldest message must say so, not pretend it did")
		return
	}
	top := e.sendTo(t, ch)
	sendIDs(t, top, "oldest", "middle", "newest")
	e.depthIs(t, ch, 3, "every published message waits in the channel")
	dropped, err := e.b.DropOldest(stepCtx(t), ch)
	if err != nil || !dropped {
		t.Fatalf("DropOldest = %v, %v; want true, nil: a full drop-oldest route makes room this way", dropped, err)
	}
	e.depthIs(t, ch, 2, "the dropped message must leave the channel")
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{MaxInflight: 2})
	for _, want := range []string{"middle", "newest"} {
		m := receive(t, sub, "the messages not dropped must still be delivered")
		m.Ack()
		if id := m.Metadata["id"]; id != want {
			t.Fatalf("received %s, want %s: drop-oldest drops the oldest, not another", id, want)
		}
	}
	e.depthIs(t, ch, 0, "both remaining messages were acked")
	dropped, err = e.b.DropOldest(stepCtx(t), ch)
	if err != nil || dropped {
		t.Fatalf("DropOldest on an empty channel = %v, %v; want false, nil", dropped, err)
	}
}

// suiteTopic is the topic testTopic publishes to. Topics belong to their
// readers and the bus never deletes one, so every run uses the same name
// and the second finds it declared already.
const suiteTopic = "adaptertest-topic"

// testTopic checks what Capabilities.Topics promises, for routes whose
// target is a topic: opening a topic declares it if missing, a publish
// within the size limit is stored and one over it refused, and shutting
// down twice is harmless. A backend that does not declare it must refuse
// to open one.
func testTopic(t *testing.T, e *env) {
	if !e.caps.Topics {
		_, err := e.b.OpenTopic(stepCtx(t), suiteTopic)
		wantCode(t, "OpenTopic without Capabilities.Topics", err, errcode.FailedPrecondition,
			"a route with a topic target must be refused on a backend that cannot publish to topics")
		return
	}
	top, err := e.b.OpenTopic(stepCtx(t), suiteTopic)
	if err != nil {
		t.Fatalf("OpenTopic(%q): %v: a topic target's topic is declared if missing", suiteTopic, err)
	}
	t.Cleanup(func() { shutdown(t, "topic", top.Shutdown) })
	ev := GoldenEvent(t)
	m, err := adapters.EncodeEvent(ev)
	if err != nil {
		t.Fatalf("EncodeEvent: %v", err)
	}
	if err := top.Publish(stepCtx(t), m); err != nil {
		t.Fatalf("Publish: %v: a topic target's delivery is this publish", err)
	}
	over := message("over", nil)
	over.Body = bytes.Repeat([]byte{'x'}, e.caps.MaxMessageBytes+1-adapters.MessageBytes(nil, over.Metadata))
	wantCode(t, "Publish of MaxMessageBytes+1", top.Publish(stepCtx(t), over), errcode.InvalidArgument,
		"a topic keeps the backend's size limit, as a channel does, and says so rather than storing part of it")
	if err := top.Shutdown(stepCtx(t)); err != nil {
		t.Fatalf("topic Shutdown: %v", err)
	}
	if err := top.Shutdown(stepCtx(t)); err != nil {
		t.Fatalf("second topic Shutdown: %v, want nil", err)
	}
}

func testOutage(t *testing.T, e *env, o *Outage) {
	ch := e.channel(t)
	top := e.sendTo(t, ch)
	sub := e.subscription(t, ch, adapters.SubscriptionOptions{})
	sendIDs(t, top, "before-outage")

	restarted := false
	t.Cleanup(func() {
		if !restarted { // never leave the server down for the next test
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := o.Start(ctx); err != nil {
				t.Errorf("cleanup: Outage.Start: %v", err)
			}
		}
	})
	if err := o.Stop(stepCtx(t)); err != nil {
		t.Fatalf("Outage.Stop: %v", err)
	}

	const why = "while the backend is away the bus must answer 503, not hang or lose the event"
	testkit.EventuallyNoError(t, settleTimeout, func() error {
		if err := e.b.Ping(stepCtx(t)); errcode.Of(err) != errcode.Unavailable {
			return fmt.Errorf("Ping = %v, want code unavailable: %s", err, why)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), receiveTimeout)
	defer cancel()
	wantCode(t, "Send while the backend is away", top.Send(ctx, message("during-outage", nil)), errcode.Unavailable, why)
	_, err := e.b.Depth(ctx, ch)
	wantCode(t, "Depth while the backend is away", err, errcode.Unavailable, why)

	if err := o.Start(stepCtx(t)); err != nil {
		t.Fatalf("Outage.Start: %v", err)
	}
	restarted = true
	testkit.EventuallyNoError(t, settleTimeout, func() error {
		if err := e.b.Ping(stepCtx(t)); err != nil {
			return fmt.Errorf("Ping after the backend returned = %v, want nil: the adapter must reconnect by itself", err)
		}
		return nil
	})
	// The same topic and subscription work again, without a new Open.
	sendIDs(t, top, "after-outage")
	want := []string{"after-outage"}
	if e.caps.Durable {
		want = append(want, "before-outage")
	}
	got := map[string]bool{}
	for !allIn(want, got) {
		m := receive(t, sub, "the subscription opened before the outage must deliver again once the backend is back")
		got[m.Metadata["id"]] = true
		m.Ack()
	}
}

func allIn(want []string, got map[string]bool) bool {
	for _, id := range want {
		if !got[id] {
			return false
		}
	}
	return true
}
