package kafka

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/internal/wakeup"
	"github.com/eventbus-go/eventbus/errcode"
)

// bufferLimit bounds the records a reader holds fetched and not yet handed
// out; past it, it stops fetching until subscribers take some.
const bufferLimit = 1024

// revokeWait bounds how long a rebalance waits for records of a revoked
// partition that are in flight here to be settled, so the next owner does
// not deliver a key's record while this process still works on the one
// before it.
const revokeWait = 10 * time.Second

// commitTimeout bounds the last commit when a reader closes.
const commitTimeout = 5 * time.Second

// record is one fetched record, from its fetch until it is acked.
type record struct {
	rec   *kgo.Record
	md    map[string]string
	key   string // adapters.MetaOrderingKey; "" means unordered
	p     *partition
	owner *subscription // while in flight
}

// partition tracks what may be committed on one assigned partition: every
// offset fetched and not yet acked holds the commit below it, so a crash
// re-delivers, never skips.
type partition struct {
	id        int32
	pending   []int64        // offsets fetched and not done, ascending
	done      map[int64]bool // acked offsets still in pending
	next      int64          // after the last record fetched
	committed int64          // last offset committed, -1 for none
	inflight  int            // records handed out
	revoking  bool           // being revoked: nacks no longer requeue
}

// committable is the offset to commit: the first one not yet acked.
func (p *partition) committable() int64 {
	for len(p.pending) > 0 && p.done[p.pending[0]] {
		delete(p.done, p.pending[0])
		p.pending = p.pending[1:]
	}
	if len(p.pending) > 0 {
		return p.pending[0]
	}
	return p.next
}

// reader is this process's member of one channel's consumer group. Every
// subscription on the channel here takes records from it: unkeyed records
// in fetch order, keyed ones from their key's lane, one per key at a time
// (the next only once the previous is acked or nacked). A nacked record
// goes back to the head of its lane, so it is delivered again before the
// records behind it; it is never re-produced, which would put it behind
// them. Acks commit offsets only below the lowest record not yet acked in
// each partition.
type reader struct {
	b       *Driver
	channel string
	topic   string
	cl      *kgo.Client
	stop    context.CancelFunc
	done    chan struct{} // closed when the fetch and commit loops ended

	subs int // guarded by b.mu: subscriptions sharing the reader

	mu       sync.Mutex
	parts    map[int32]*partition
	ready    []*record            // unordered records, fetch order
	lanes    map[string][]*record // ordering key → its waiting records
	runnable []string             // keys with waiting records and none in flight
	busy     map[string]bool      // keys with a record in flight
	inflight map[*record]bool
	buffered int   // records in ready and lanes
	err      error // permanent: the channel is gone
	closed   bool
	// Who waits for what: receivers for records they may take (and, when
	// their subscription is at its prefetch, on its roomFreed instead), the
	// fetch loop for room in the buffer, a revoke for records in flight to
	// be settled. Each is woken only by a change it can use, so a record
	// wakes one receiver, not every idle one.
	available   wakeup.Signal
	bufferFreed wakeup.Signal
	settled     wakeup.Signal
	dirty       chan struct{} // an ack made something committable
}

func newReader(b *Driver, channel string) (*reader, error) {
	r := &reader{
		b:        b,
		channel:  channel,
		topic:    b.topicName(channel),
		done:     make(chan struct{}),
		parts:    map[int32]*partition{},
		lanes:    map[string][]*record{},
		busy:     map[string]bool{},
		inflight: map[*record]bool{},
		dirty:    make(chan struct{}, 1),
	}
	cl, err := kgo.NewClient(slices.Concat(b.conn, []kgo.Opt{
		kgo.SeedBrokers(b.seeds...),
		kgo.ClientID("eventbus"),
		kgo.ConsumerGroup(b.groupName(channel)),
		kgo.ConsumeTopics(r.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(int32(4 * (b.opts.maxMessageBytes + recordOverhead))),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
	})...)
	if err != nil {
		return nil, errcode.Errorf(errcode.Internal, "channel %q: consumer: %w", channel, err)
	}
	r.cl = cl
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	var loops sync.WaitGroup
	loops.Go(func() { r.fetchLoop(ctx) })
	loops.Go(func() { r.commitLoop(ctx) })
	go func() {
		loops.Wait()
		close(r.done)
	}()
	return r, nil
}

// fetchLoop polls records into the reader while it has room, until ctx
// ends.
func (r *reader) fetchLoop(ctx context.Context) {
	for {
		room := r.room(ctx)
		if room == 0 {
			return
		}
		fs := r.cl.PollRecords(ctx, room)
		if fs.IsClientClosed() || ctx.Err() != nil {
			r.cl.AllowRebalance()
			return
		}
		r.add(fs)
		// Rebalances wait while a poll's records are being added, so a
		// revoke never races with them.
		r.cl.AllowRebalance()
	}
}

// room waits until fewer than bufferLimit records are buffered and says
// how many more may be; zero once ctx ended.
func (r *reader) room(ctx context.Context) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.buffered >= bufferLimit {
		if !r.bufferFreed.Wait(ctx, &r.mu, receiveWait) {
			return 0
		}
	}
	if ctx.Err() != nil {
		return 0
	}
	return bufferLimit - r.buffered
}

func (r *reader) add(fs kgo.Fetches) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, kerr.UnknownTopicOrPartition) || errors.Is(fe.Err, kerr.UnknownTopicID) {
			r.failLocked(r.b.errDeleted(r.channel))
			return
		}
	}
	added := 0
	fs.EachRecord(func(rec *kgo.Record) {
		p := r.parts[rec.Partition]
		if p == nil {
			p = &partition{id: rec.Partition, done: map[int64]bool{}, committed: -1}
			r.parts[rec.Partition] = p
		}
		p.pending = append(p.pending, rec.Offset)
		p.next = rec.Offset + 1
		md := metadataOf(rec)
		r.enqueueLocked(&record{rec: rec, md: md, key: md[adapters.MetaOrderingKey], p: p})
		r.buffered++
		added++
	})
	r.available.Notify(added)
}

// enqueueLocked puts m at the tail of the ready queue or of its lane.
func (r *reader) enqueueLocked(m *record) {
	if m.key == "" {
		r.ready = append(r.ready, m)
		return
	}
	lane := r.lanes[m.key]
	r.lanes[m.key] = append(lane, m)
	if len(lane) == 0 && !r.busy[m.key] {
		r.runnable = append(r.runnable, m.key)
	}
}

// take waits up to maxWait for records s may receive and hands them out.
func (r *reader) take(ctx context.Context, s *subscription, maxRecords int, maxWait time.Duration) ([]*record, error) {
	deadline := time.Now().Add(maxWait)
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.err != nil {
			return nil, r.err
		}
		if s.closed {
			return nil, nil
		}
		full := s.owned >= s.prefetch
		if !full {
			if taken := r.takeLocked(s, min(maxRecords, s.prefetch-s.owned)); len(taken) > 0 {
				if r.buffered+len(taken) >= bufferLimit {
					r.bufferFreed.Broadcast() // the fetch loop waits for room
				}
				return taken, nil
			}
		}
		signal := &r.available
		if full {
			signal = &s.roomFreed
		}
		wait := time.Until(deadline)
		if wait <= 0 || !signal.Wait(ctx, &r.mu, wait) {
			return nil, nil
		}
	}
}

// takeLocked hands up to n records to s: unordered ones first, then the
// head of each runnable lane.
func (r *reader) takeLocked(s *subscription, n int) []*record {
	k := min(n, len(r.ready))
	taken := slices.Clone(r.ready[:k])
	r.ready = r.ready[k:]
	for len(taken) < n && len(r.runnable) > 0 {
		key := r.runnable[0]
		r.runnable = r.runnable[1:]
		lane := r.lanes[key]
		if len(lane) == 0 || r.busy[key] { // a stale entry: purged, revoked or given back meanwhile
			continue
		}
		taken = append(taken, lane[0])
		if len(lane) == 1 {
			delete(r.lanes, key)
		} else {
			r.lanes[key] = lane[1:]
		}
		r.busy[key] = true
	}
	for _, m := range taken {
		m.owner = s
		m.p.inflight++
		r.inflight[m] = true
	}
	r.buffered -= len(taken)
	s.owned += len(taken)
	return taken
}

// settle acks or nacks the records s still owns; records it no longer owns
// were given back when s closed, or dropped by a revoke, and are skipped.
func (r *reader) settle(s *subscription, ms []*record, ack bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var back []*record
	wasFull := s.owned >= s.prefetch
	runnable := 0 // keys this made runnable
	for _, m := range ms {
		if m.owner != s || !r.inflight[m] {
			continue
		}
		r.untrackLocked(m)
		switch {
		case ack:
			m.p.done[m.rec.Offset] = true
			runnable += r.freeKeyLocked(m.key, false)
		case m.p.revoking:
			runnable += r.freeKeyLocked(m.key, false) // its next owner delivers it again
		default:
			back = append(back, m)
		}
	}
	r.requeueLocked(back)
	if wasFull && s.owned < s.prefetch {
		s.roomFreed.Broadcast()
	}
	r.available.Notify(runnable + len(back))
	r.settled.Broadcast()
	if ack {
		select {
		case r.dirty <- struct{}{}:
		default:
		}
	}
}

func (r *reader) untrackLocked(m *record) {
	delete(r.inflight, m)
	m.owner.owned--
	m.owner = nil
	m.p.inflight--
}

// requeueLocked puts records back at the head of their queues, in order.
func (r *reader) requeueLocked(ms []*record) {
	var unordered []*record
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		r.buffered++
		if m.key == "" {
			unordered = append(unordered, m)
			continue
		}
		r.lanes[m.key] = append([]*record{m}, r.lanes[m.key]...)
		r.freeKeyLocked(m.key, true)
	}
	slices.Reverse(unordered)
	r.ready = append(unordered, r.ready...)
}

// freeKeyLocked marks key as having nothing in flight and, if its lane has
// records, makes it runnable (first in line when a record was given back,
// so the lane keeps its order). It returns 1 if it made key runnable, else
// 0.
func (r *reader) freeKeyLocked(key string, first bool) int {
	if key == "" {
		return 0
	}
	delete(r.busy, key)
	if len(r.lanes[key]) == 0 {
		return 0
	}
	if first {
		r.runnable = append([]string{key}, r.runnable...)
	} else {
		r.runnable = append(r.runnable, key)
	}
	return 1
}

// release gives back every record s still owns, in offset order, and stops
// s from taking more: at-least-once across a subscriber restart. It
// reports false if s was released already.
func (r *reader) release(s *subscription) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	var owned []*record
	for m := range r.inflight {
		if m.owner == s {
			owned = append(owned, m)
		}
	}
	slices.SortFunc(owned, func(a, b *record) int {
		return cmp.Or(cmp.Compare(a.p.id, b.p.id), cmp.Compare(a.rec.Offset, b.rec.Offset))
	})
	for _, m := range owned {
		r.untrackLocked(m)
	}
	r.requeueLocked(owned)
	// Every receiver: s's see it closed, others take what it gave back.
	r.available.Broadcast()
	s.roomFreed.Broadcast()
	r.settled.Broadcast()
	return true
}

// dropLocked removes the waiting records that drop selects and returns
// them.
func (r *reader) dropLocked(drop func(*record) bool) []*record {
	var dropped []*record
	keep := func(m *record) bool {
		if drop(m) {
			dropped = append(dropped, m)
			return true
		}
		return false
	}
	r.ready = slices.DeleteFunc(r.ready, keep)
	for key, lane := range r.lanes {
		if lane = slices.DeleteFunc(lane, keep); len(lane) == 0 {
			delete(r.lanes, key)
		} else {
			r.lanes[key] = lane
		}
	}
	r.buffered -= len(dropped)
	return dropped
}

// purge drops every record waiting here, as done: Purge deleted them from
// the topic.
func (r *reader) purge() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.dropLocked(func(*record) bool { return true }) {
		m.p.done[m.rec.Offset] = true
	}
	r.bufferFreed.Broadcast()
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

// revoked is the group's OnPartitionsRevoked: the waiting records of the
// revoked partitions are dropped (their next owner fetches them from the
// committed offset), records in flight get up to revokeWait to be settled,
// then what is acked is committed before the partitions move.
func (r *reader) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	ids := revoked[r.topic]
	r.mu.Lock()
	for _, id := range ids {
		if p := r.parts[id]; p != nil {
			p.revoking = true
		}
	}
	r.dropLocked(func(m *record) bool { return m.p.revoking })
	r.bufferFreed.Broadcast()
	deadline := time.Now().Add(revokeWait)
	for r.inflightIn(ids) && time.Now().Before(deadline) {
		r.settled.Wait(ctx, &r.mu, time.Until(deadline))
	}
	r.mu.Unlock()
	r.commit(ctx)
	r.mu.Lock()
	for _, id := range ids {
		delete(r.parts, id)
	}
	r.mu.Unlock()
}

// lost is the group's OnPartitionsLost: the partitions are gone without a
// chance to commit; their records are dropped.
func (r *reader) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range lost[r.topic] {
		if p := r.parts[id]; p != nil {
			p.revoking = true
			delete(r.parts, id)
		}
	}
	r.dropLocked(func(m *record) bool { return m.p.revoking })
	r.bufferFreed.Broadcast()
}

func (r *reader) inflightIn(ids []int32) bool {
	for _, id := range ids {
		if p := r.parts[id]; p != nil && p.inflight > 0 {
			return true
		}
	}
	return false
}

// commitLoop commits whenever acks made progress; acks that arrive during
// a commit are coalesced into the next one.
func (r *reader) commitLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.dirty:
			r.commit(ctx)
		}
	}
}

// commit commits, for every partition where it advanced, the offset below
// which everything is acked. A failed commit is retried with the next ack
// or at close; meanwhile a crash re-delivers more, never less.
func (r *reader) commit(ctx context.Context) {
	r.mu.Lock()
	offsets := map[int32]kgo.EpochOffset{}
	for id, p := range r.parts {
		if at := p.committable(); at > p.committed {
			offsets[id] = kgo.EpochOffset{Epoch: -1, Offset: at}
		}
	}
	r.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	r.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{r.topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				return
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, t := range resp.Topics {
				for _, rp := range t.Partitions {
					if p := r.parts[rp.Partition]; p != nil && rp.ErrorCode == 0 {
						p.committed = max(p.committed, offsets[rp.Partition].Offset)
					}
				}
			}
		})
}

// fail stops the reader for good: every receive answers err.
func (r *reader) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failLocked(err)
}

func (r *reader) failLocked(err error) {
	if r.err == nil {
		r.err = err
	}
	r.stop() // nothing more to fetch
	// Receivers of a subscription at its prefetch see err within
	// receiveWait.
	r.available.Broadcast()
	r.bufferFreed.Broadcast()
	r.settled.Broadcast()
}

// close stops fetching, commits what is acked and leaves the group, so its
// partitions go to the other replicas at once. It is safe to call twice.
func (r *reader) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	r.stop()
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	r.commit(ctx)
	r.cl.CloseAllowingRebalance()
}
