package memory

import (
	"cmp"
	"container/heap"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/internal/wakeup"
	"github.com/eventbus-go/eventbus/errcode"
)

type message struct {
	id uint64
	// packed is the metadata's fields, then from bodyAt the body (see
	// pack.go): one slice with no pointers for the garbage collector to
	// scan.
	packed []byte
	bodyAt int
	size   int
	key    string        // adapters.MetaOrderingKey; "" means unordered
	due    int64         // adapters.MetaDeliverAt, Unix milliseconds; 0 means now
	owner  *subscription // while in flight
}

func (m *message) metadata() map[string]string { return unpack(m.packed[:m.bodyAt]) }
func (m *message) body() []byte                { return m.packed[m.bodyAt:] }

// draft is a message being published: its flattened fields and body, in
// the sender's buffers until the channel stores it.
type draft struct {
	fields, body []byte
	size         int
	key          string
	due          int64
}

// message is d stored as a message of its own, with id.
func (d *draft) message(id uint64) *message {
	// The key is copied: a received message's metadata shares one string,
	// which a retry sending it again must not keep alive.
	return &message{id: id, packed: joined(d.fields, d.body), bodyAt: len(d.fields), size: d.size, key: strings.Clone(d.key), due: d.due}
}

// channel is one bounded queue of a route. A message is in exactly one of
// these places: scheduled (waiting for its due time), requeued (unordered,
// given back by its receiver: taken first), ready (unordered FIFO, packed
// in slabs), a lane (the FIFO of its ordering key), or in flight (received
// and not yet settled). A lane hands out one message at a time: the next
// waits until the previous one is acked.
type channel struct {
	name string
	opts Options

	mu        sync.Mutex
	scheduled dueHeap
	requeued  queue
	ready     packedQueue
	lanes     map[string]*queue // ordering key → its waiting messages
	runnable  []string          // keys with waiting messages and none in flight, FIFO
	busy      map[string]bool   // keys with a message in flight
	inflight  map[uint64]*message
	count     int // messages in every place
	bytes     int
	nextID    uint64
	removed   bool
	// available wakes receivers with room for messages when there are
	// messages to take: as many as there are, not every receiver for
	// each one. A receiver without room waits on its subscription's
	// roomFreed instead.
	available wakeup.Signal
	subs      map[*subscription]bool // open subscriptions, woken when the channel goes
}

func newChannel(name string, opts Options) *channel {
	return &channel{
		name:     name,
		opts:     opts,
		lanes:    map[string]*queue{},
		busy:     map[string]bool{},
		inflight: map[uint64]*message{},
		subs:     map[*subscription]bool{},
	}
}

func (c *channel) depth() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// purge drops every message not in flight.
func (c *channel) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count -= c.ready.len()
	c.bytes -= c.ready.bytes
	c.ready.reset()
	dropped := c.requeued.reset()
	for _, lane := range c.lanes {
		dropped = append(dropped, lane.reset()...)
	}
	dropped = append(dropped, c.scheduled...)
	c.scheduled = nil
	clear(c.lanes)
	c.runnable = nil
	for _, m := range dropped {
		c.forgetLocked(m.size)
	}
}

func (c *channel) remove() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removed = true
	c.ready.reset()
	c.requeued.reset()
	c.scheduled = nil
	clear(c.lanes)
	clear(c.busy)
	clear(c.inflight)
	c.runnable = nil
	c.count, c.bytes = 0, 0
	c.available.Broadcast()
	for s := range c.subs {
		s.roomFreed.Broadcast()
	}
}

// open registers s, so that it wakes when the channel is deleted.
func (c *channel) open(s *subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subs[s] = true
}

func (c *channel) errRemoved() error {
	return errcode.Errorf(errcode.NotFound, "channel %q was deleted", c.name)
}

// forgetLocked counts out a message of size bytes that left the channel.
func (c *channel) forgetLocked(size int) {
	c.count--
	c.bytes -= size
}

// publish stores all of ms or none of them.
func (c *channel) publish(ms []*driver.Message) error {
	drafts := make([]draft, len(ms))
	var fields []byte // every message's, one after another
	for i, m := range ms {
		var due int64
		if at := m.Metadata[adapters.MetaDeliverAt]; at != "" {
			ms, err := strconv.ParseInt(at, 10, 64)
			if err != nil {
				return errcode.Errorf(errcode.InvalidArgument, "%s %q is not Unix milliseconds", adapters.MetaDeliverAt, at)
			}
			due = ms
		}
		start := len(fields)
		var size int
		fields, size = flatten(fields, m.Metadata)
		d, err := c.newDraft(fields[start:], m.Body, size, m.Metadata[adapters.MetaOrderingKey], due)
		if err != nil {
			return err
		}
		drafts[i] = d // its fields stay as written, wherever later appends move the buffer
	}
	return c.store(drafts, func() error {
		for _, m := range ms {
			if m.BeforeSend != nil {
				if err := m.BeforeSend(func(any) bool { return false }); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// publishEvent stores e with the bus's stamp s, flattened from their
// fields.
func (c *channel) publishEvent(e *event.Event, s adapters.Stamp) error {
	var buf [512]byte
	fields, size, err := flattenEvent(buf[:0], e, s)
	if err != nil {
		return err
	}
	var due int64
	if !s.DeliverAt.IsZero() {
		due = s.DeliverAt.UnixMilli()
	}
	d, err := c.newDraft(fields, e.Data(), size, s.OrderingKey, due)
	if err != nil {
		return err
	}
	return c.store([]draft{d}, nil)
}

// newDraft is the draft of the flattened fields, whose names and values
// hold size bytes, and body, refused over the size limit.
func (c *channel) newDraft(fields, body []byte, size int, key string, due int64) (draft, error) {
	if size += len(body); size > c.opts.MaxMessageBytes {
		return draft{}, errcode.Errorf(errcode.InvalidArgument, "message of %d bytes is over the in-memory limit of %d bytes (max_message_bytes)", size, c.opts.MaxMessageBytes)
	}
	return draft{fields: fields, body: body, size: size, key: key, due: due}, nil
}

// store adds the drafts to the channel, all or none. beforeSend, when not
// nil, runs once they are known to fit, before they are stored.
func (c *channel) store(drafts []draft, beforeSend func() error) error {
	total := 0
	for i := range drafts {
		total += drafts[i].size
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return c.errRemoved()
	}
	if c.count+len(drafts) > c.opts.MaxDepth || c.bytes+total > c.opts.MaxBytes {
		return errcode.Errorf(errcode.ResourceExhausted,
			"channel %q is full (%d messages, %d bytes; limits %d messages, %d bytes): deliveries are behind, retry later",
			c.name, c.count, c.bytes, c.opts.MaxDepth, c.opts.MaxBytes)
	}
	if beforeSend != nil {
		if err := beforeSend(); err != nil {
			return err
		}
	}
	var now time.Time // read for the first message with a due time: most have none
	ready := 0
	for i := range drafts {
		d := &drafts[i]
		c.nextID++
		c.count++
		c.bytes += d.size
		if d.due != 0 {
			if now.IsZero() {
				now = time.Now()
			}
			if d.due > now.UnixMilli() {
				m := d.message(c.nextID)
				heap.Push(&c.scheduled, m)
				if c.scheduled[0] == m {
					ready++ // due before every receiver's wait ends: one recomputes its wait
				}
				continue
			}
		}
		ready++
		if d.key == "" {
			c.ready.push(c.nextID, d.size, d.fields, d.body) // no message object: the common case
			continue
		}
		c.enqueueLocked(d.message(c.nextID))
	}
	c.available.Notify(ready)
	return nil
}

// enqueueLocked makes m receivable: at the tail of the ready queue or of
// its lane.
func (c *channel) enqueueLocked(m *message) {
	if m.key == "" {
		c.ready.push(m.id, m.size, m.packed[:m.bodyAt], m.packed[m.bodyAt:])
		return
	}
	lane := c.lanes[m.key]
	if lane == nil {
		lane = &queue{}
		c.lanes[m.key] = lane
	}
	lane.push(m)
	if lane.len() == 1 && !c.busy[m.key] {
		c.runnable = append(c.runnable, m.key)
	}
}

// promoteLocked moves scheduled messages that are due into their queues and
// returns how long until the next one is.
func (c *channel) promoteLocked(now time.Time) time.Duration {
	for len(c.scheduled) > 0 {
		next := c.scheduled[0]
		if wait := time.UnixMilli(next.due).Sub(now); wait > 0 {
			return wait
		}
		heap.Pop(&c.scheduled)
		c.enqueueLocked(next)
	}
	return -1
}

// takeLocked hands up to n receivable messages to s: unordered ones first,
// then the head of each runnable lane.
func (c *channel) takeLocked(s *subscription, n int) []*message {
	taken := make([]*message, 0, min(n, c.requeued.len()+c.ready.len()+len(c.runnable)))
	taken = c.requeued.pop(taken, n)
	taken = c.ready.pop(taken, n-len(taken))
	for len(taken) < n && len(c.runnable) > 0 {
		key := c.runnable[0]
		c.runnable = c.runnable[1:]
		lane := c.lanes[key]
		taken = lane.pop(taken, 1)
		if lane.len() == 0 {
			delete(c.lanes, key)
		}
		c.busy[key] = true
	}
	for _, m := range taken {
		m.owner = s
		c.inflight[m.id] = m
	}
	s.owned += len(taken)
	return taken
}

// takeableLocked reports whether a receiver with room would take a
// message now.
func (c *channel) takeableLocked() bool {
	return c.requeued.len() > 0 || c.ready.len() > 0 || len(c.runnable) > 0
}

// take waits up to maxWait for messages s may receive and takes them.
// A receiver that leaves messages to take wakes the next one: promoted
// messages and a wake-up it could not use are passed on, not lost.
func (c *channel) take(ctx context.Context, s *subscription, maxMessages int, maxWait time.Duration) ([]*message, error) {
	deadline := time.Now().Add(maxWait)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.removed {
			return nil, c.errRemoved()
		}
		if s.closed {
			return nil, nil
		}
		now := time.Now()
		nextDue := c.promoteLocked(now)
		room := min(maxMessages, s.prefetch-s.owned)
		if room > 0 {
			if taken := c.takeLocked(s, room); len(taken) > 0 {
				if c.takeableLocked() {
					c.available.Notify(1)
					if s.owned < s.prefetch {
						s.roomFreed.Notify(1) // a receiver of s that waited for room has it
					}
				}
				return taken, nil
			}
		}
		wait := deadline.Sub(now)
		if wait <= 0 {
			return nil, nil
		}
		if nextDue >= 0 {
			wait = min(wait, nextDue)
		}
		signal := &c.available
		if room <= 0 {
			if c.takeableLocked() {
				c.available.Notify(1) // a receiver with room takes it
			}
			signal = &s.roomFreed
		}
		if !signal.Wait(ctx, &c.mu, wait) {
			return nil, nil
		}
	}
}

// settle acks (requeue false) or nacks (requeue true) the messages with
// these ids that s still owns; ids it no longer owns are skipped, since
// they were given back when s closed. Nacked messages go back to the head
// of their queue, in order.
func (c *channel) settle(s *subscription, ids []driver.AckID, requeue bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var back []*message
	owned := min(s.owned, s.prefetch)
	runnable := 0 // lanes the acks made runnable
	for _, id := range ids {
		m := id.(*message)
		if c.inflight[m.id] != m || m.owner != s {
			continue
		}
		delete(c.inflight, m.id)
		m.owner = nil
		s.owned--
		if requeue {
			back = append(back, m)
			continue
		}
		c.forgetLocked(m.size)
		if c.freeKeyLocked(m.key, false) {
			runnable++
		}
	}
	c.requeueLocked(back)
	// Each slot freed wakes one receiver of s waiting for room, however
	// full s was: one woken by an earlier ack may have taken its slot.
	if freed := owned - s.owned; freed > 0 {
		s.roomFreed.Notify(freed)
	}
	c.available.Notify(runnable + len(back))
}

// requeueLocked puts in-flight messages back at the head of their queues.
func (c *channel) requeueLocked(ms []*message) {
	var unordered []*message
	for _, m := range ms {
		if m.key == "" {
			unordered = append(unordered, m)
			continue
		}
		lane := c.lanes[m.key]
		if lane == nil {
			lane = &queue{}
			c.lanes[m.key] = lane
		}
		lane.pushFront([]*message{m})
		c.freeKeyLocked(m.key, true)
	}
	c.requeued.pushFront(unordered)
}

// freeKeyLocked marks key as having nothing in flight and, if its lane has
// messages, makes it runnable (first in line when the message was given
// back, so the lane keeps its order); it reports whether it did.
func (c *channel) freeKeyLocked(key string, first bool) bool {
	if key == "" {
		return false
	}
	delete(c.busy, key)
	if c.lanes[key] == nil || c.lanes[key].len() == 0 {
		return false
	}
	if first {
		c.runnable = append([]string{key}, c.runnable...)
	} else {
		c.runnable = append(c.runnable, key)
	}
	return true
}

// release gives back every message s still owns and stops s from taking
// more: at-least-once across a subscriber restart.
func (c *channel) release(s *subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.closed = true
	var owned []*message
	for _, m := range c.inflight {
		if m.owner == s {
			owned = append(owned, m)
		}
	}
	slices.SortFunc(owned, func(a, b *message) int { return cmp.Compare(a.id, b.id) })
	for _, m := range owned {
		delete(c.inflight, m.id)
		m.owner = nil
	}
	s.owned = 0
	delete(c.subs, s)
	c.requeueLocked(owned)
	c.available.Broadcast() // s's receivers leave; the others take what came back
	s.roomFreed.Broadcast()
}

// dueHeap orders scheduled messages by due time, then by publish order.
type dueHeap []*message

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].due == h[j].due {
		return h[i].id < h[j].id
	}
	return h[i].due < h[j].due
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(*message)) }
func (h *dueHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return m
}

// dropOldest discards the waiting message published first, if any.
func (c *channel) dropOldest() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Of the unordered messages, the one a receiver would take first: the
	// first requeued, or else the ready queue's first. Of a lane, its head.
	found, oldestID, oldestKey := false, uint64(0), ""
	switch {
	case c.requeued.len() > 0:
		found, oldestID = true, c.requeued.items[c.requeued.head].id
	case c.ready.len() > 0:
		found, oldestID = true, c.ready.firstID()
	}
	for key, lane := range c.lanes {
		if head := lane.items[lane.head]; !found || head.id < oldestID {
			found, oldestID, oldestKey = true, head.id, key
		}
	}
	switch {
	case !found:
		return false
	case oldestKey != "":
		lane := c.lanes[oldestKey]
		c.forgetLocked(lane.pop(nil, 1)[0].size)
		if lane.len() == 0 {
			delete(c.lanes, oldestKey)
			c.runnable = slices.DeleteFunc(c.runnable, func(k string) bool { return k == oldestKey })
		}
	case c.requeued.len() > 0:
		c.forgetLocked(c.requeued.pop(nil, 1)[0].size)
	default:
		c.forgetLocked(c.ready.drop())
	}
	return true
}
