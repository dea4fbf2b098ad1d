package history

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/eventbus-go/eventbus/internal/ringindex"
)

// Defaults of Options' zero fields.
const (
	DefaultMaxEvents = 100_000
	DefaultMaxAge    = time.Hour
	// MaxEventsBound is the largest MaxEvents: the most events the
	// history's index tells apart.
	MaxEventsBound = ringindex.MaxCapacity
	// MaxAttempts is how many attempts each route keeps of one event: the
	// latest ones.
	MaxAttempts = 16
	// blockSize is how many slots the ring allocates at a time.
	blockSize = 1024
)

// State is where a route's copy of an event is.
type State string

const (
	Pending      State = "pending"       // on the route's channel, not yet attempted (or redriven)
	Delivered    State = "delivered"     // the target took it
	Retrying     State = "retrying"      // an attempt failed; another is due
	DeadLettered State = "dead_lettered" // kept on <route>.dlq
	Dropped      State = "dropped"       // discarded: a drop verdict, or dead_letter: false
)

// Attempt is one try at a route's target.
type Attempt struct {
	At time.Time `json:"at"`
	// Verdict is what the attempt decided: ack, retry, drop or dead-letter.
	Verdict string `json:"verdict"`
	// Status is the target's HTTP status, when it answered one.
	Status int `json:"status,omitempty"`
	// Reason is why, when it was not an ack.
	Reason    string  `json:"reason,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
}

// Route is what became of an event on one route.
type Route struct {
	Route string `json:"route"`
	State State  `json:"state"`
	// Attempts counts every attempt; Latest holds the last MaxAttempts.
	Attempts   int       `json:"attempts"`
	Latest     []Attempt `json:"latest_attempts"`
	RedrivenAt time.Time `json:"redriven_at,omitzero"`
}

// Event is what the history knows of one event.
type Event struct {
	Bus    string `json:"bus"`
	Source string `json:"source"`
	ID     string `json:"id"`
	// AcceptedAt is when ingress took in the event it then stored; zero
	// when the history learnt of the event from a dispatcher or a redrive
	// only (it was accepted by another replica, or before the history's
	// bounds).
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	// Routes are the routes it matched, in the order ingress named them;
	// empty when it matched none.
	Routes []Route `json:"routes"`
}

// Options bound a History. Zero fields take the defaults.
type Options struct {
	MaxEvents int
	MaxAge    time.Duration
	// Now is the clock of every record but Accepted, which is given the
	// time ingress took the event in; nil is time.Now.
	Now func() time.Time
}

type key struct{ bus, source, id string }

// entry is one slot of the ring: what Lookup makes an Event of, in a form
// the garbage collector has little of to scan, since it scans every slot
// of a full ring. Times are Unix nanoseconds, and the first route and its
// latest attempt are held in the slot itself: most events match one
// route and are delivered at the first attempt, and the slot of such an
// event points at nothing of its own but its key's strings.
type entry struct {
	bus, source, id string
	hash            uint64 // of its key, by which History.index finds it
	// added is the time of the history's first record of it, in Unix
	// nanoseconds, for MaxAge. Ingress gives its time, read before the
	// lock, so a slot may be a little older than the one before it: it is
	// hidden once aged (expired) and freed when the head reaches it.
	added    int64
	accepted int64 // Unix nanoseconds when ingress took it in; 0: not known
	// routes counts its routes: first, then more, in the order ingress
	// named them (or dispatchers first told of them).
	routes int
	first  routeRecord
	more   []routeRecord
}

// routeRecord is what became of an event on one route.
type routeRecord struct {
	name     string
	state    State
	attempts int   // every attempt, of which the last MaxAttempts are kept
	redriven int64 // Unix nanoseconds; 0: never
	// last is the latest attempt, when attempts > 0; earlier holds up to
	// MaxAttempts-1 before it, oldest first.
	last    attempt
	earlier []attempt
}

// attempt is an Attempt, its time in Unix nanoseconds.
type attempt struct {
	at        int64
	verdict   string
	status    int
	reason    string
	latencyMS float64
}

// is reports whether e is the event of k.
func (e *entry) is(k key) bool {
	return e.id == k.id && e.source == k.source && e.bus == k.bus
}

// History is a bounded record of recent events. Its methods are safe for
// concurrent use; a nil *History records nothing and finds nothing.
//
// The events live in a ring of slots reused in place, found through a
// ringindex.Index by the hash of their key: the index holds no pointers
// for the garbage collector to follow, forgetting the oldest event costs
// it nothing, and a new event allocates nothing once the ring has gone
// round. The index takes 32 to 64 bytes an event of max at once (4 MB
// for the default 100,000). The ring is allocated a block of slots at a
// time, as events first reach it: a quiet bus does not hold (or have the
// collector scan) room for max events, and growing never moves a slot, so
// no record waits for the ring to be copied.
type History struct {
	maxAge time.Duration
	now    func() time.Time
	seed   maphash.Seed

	mu sync.Mutex
	// index finds an event's entry by the hash of its key (see package
	// ringindex: on a full default history, about one event in seven
	// million is forgotten early).
	index *ringindex.Index
	// blocks hold the ring's max slots, blockSize each, nil until the
	// ring first reaches them. The events are numbered in the order they
	// were added, the oldest head, the newest head+size-1; event n is in
	// slot n%max.
	blocks [][]entry
	head   uint64
	size   int
	max    int
}

// New returns an empty history with o's bounds.
func New(o Options) *History {
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	o.MaxEvents = min(o.MaxEvents, MaxEventsBound)
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &History{
		maxAge: o.MaxAge,
		now:    o.Now,
		seed:   maphash.MakeSeed(),
		index:  ringindex.New(o.MaxEvents),
		blocks: make([][]entry, (o.MaxEvents+blockSize-1)/blockSize),
		max:    o.MaxEvents,
	}
}

// Accepted records that ingress stored an event on routes, having taken
// it in at the time given (ingress reads its clock once per event, so the
// history does not read its own here).
func (h *History) Accepted(bus, source, id string, routes []string, at time.Time) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.get(key{bus, source, id}, at, false)
	e.accepted = unixNano(at)
	for _, r := range routes {
		e.route(r)
	}
}

// Prefetch readies the history for the Accepted of n events about to be
// stored one after another on bus, event i known by keyOf(i): the index
// reads their places all at once, so that each Accepted finds its own in
// the cache.
func (h *History) Prefetch(bus string, n int, keyOf func(i int) (source, id string)) {
	if h == nil {
		return
	}
	hashes := make([]uint64, n)
	for i := range hashes {
		source, id := keyOf(i)
		hashes[i] = maphash.Comparable(h.seed, key{bus, source, id})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.index.Prefetch(hashes)
}

// Attempted records one attempt at route's target and the state it left
// the event in.
func (h *History) Attempted(bus, source, id, route string, a Attempt, state State) {
	if h == nil {
		return
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.get(key{bus, source, id}, now, true).route(route)
	r.state = state
	if r.attempts > 0 {
		if len(r.earlier) == MaxAttempts-1 {
			r.earlier = append(r.earlier[:0], r.earlier[1:]...)
		}
		r.earlier = append(r.earlier, r.last)
	}
	r.attempts++
	r.last = attempt{at: unixNano(a.At), verdict: a.Verdict, status: a.Status, reason: a.Reason, latencyMS: a.LatencyMS}
}

// Settled records where the event ended on route, after the route's
// policy acted on the last attempt's verdict.
func (h *History) Settled(bus, source, id, route string, state State) {
	if h == nil {
		return
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.get(key{bus, source, id}, now, true).route(route).state = state
}

// Redriven records that a redrive put the event back on route's channel.
// A redrive records it before it sends (the event's next attempt may be
// recorded before the send returns); if the send fails, the func it
// returns takes the record back: the route's state and redrive time are
// as they were.
func (h *History) Redriven(bus, source, id, route string) (undo func()) {
	if h == nil {
		return func() {}
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.get(key{bus, source, id}, now, true).route(route)
	state, redriven := r.state, r.redriven
	r.state = Pending
	r.redriven = unixNano(now)
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if e := h.find(key{bus, source, id}); e != nil {
			r := e.route(route)
			r.state, r.redriven = state, redriven
		}
	}
}

// Lookup returns what the history knows of an event, a copy the caller
// may keep; false when it has never heard of it or forgot it.
func (h *History) Lookup(bus, source, id string) (Event, bool) {
	if h == nil {
		return Event{}, false
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.find(key{bus, source, id})
	if e == nil || h.expired(e, now) {
		return Event{}, false
	}
	return e.event(), true
}

// event returns what e holds as an Event of the caller's own.
func (e *entry) event() Event {
	out := Event{Bus: e.bus, Source: e.source, ID: e.id, AcceptedAt: unixTime(e.accepted), Routes: make([]Route, e.routes)}
	for i := range out.Routes {
		r := &e.first
		if i > 0 {
			r = &e.more[i-1]
		}
		latest := make([]Attempt, 0, min(r.attempts, MaxAttempts))
		for _, a := range r.earlier {
			latest = append(latest, a.exported())
		}
		if r.attempts > 0 {
			latest = append(latest, r.last.exported())
		}
		out.Routes[i] = Route{Route: r.name, State: r.state, Attempts: r.attempts, Latest: latest, RedrivenAt: unixTime(r.redriven)}
	}
	return out
}

func (a *attempt) exported() Attempt {
	return Attempt{At: unixTime(a.at), Verdict: a.verdict, Status: a.status, Reason: a.reason, LatencyMS: a.latencyMS}
}

// unixNano and unixTime turn a time into Unix nanoseconds and back; the
// zero time is 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Bounds returns how many events the history holds at most, and for how
// long.
func (h *History) Bounds() (maxEvents int, maxAge time.Duration) {
	return h.max, h.maxAge
}

func (h *History) expired(e *entry, now time.Time) bool {
	return now.UnixNano()-e.added >= h.maxAge.Nanoseconds()
}

// find returns the entry of k, or nil. h.mu must be held.
func (h *History) find(k key) *entry {
	seq, ok := h.lookup(k, maphash.Comparable(h.seed, k))
	if !ok {
		return nil
	}
	return h.slot(seq)
}

// lookup returns the number of k's entry, whose key hashed to hash. h.mu
// must be held.
func (h *History) lookup(k key, hash uint64) (uint64, bool) {
	return h.index.Find(hash, h.head, uint64(h.size), func(seq uint64) bool { return h.slot(seq).is(k) })
}

// get returns the entry of k, adding it (and forgetting the oldest, or
// the aged) when it is new or aged. A new entry keeps copies of k's
// strings when shared: a dispatcher's come from a received message's
// metadata, which may be one string that the entry would keep whole.
// h.mu must be held.
func (h *History) get(k key, now time.Time, shared bool) *entry {
	hash := maphash.Comparable(h.seed, k)
	if seq, ok := h.lookup(k, hash); ok {
		e := h.slot(seq)
		if !h.expired(e, now) {
			return e
		}
		h.index.Remove(hash, seq) // aged: k gets a new entry; this one waits for the head to pass
	}
	for h.size > 0 && h.expired(h.slot(h.head), now) {
		h.forgetOldest()
	}
	if h.size == h.max {
		h.forgetOldest()
	}
	seq := h.head + uint64(h.size)
	slot := int(seq % uint64(h.max))
	if h.blocks[slot/blockSize] == nil {
		h.blocks[slot/blockSize] = make([]entry, min(blockSize, h.max-slot))
	}
	if shared {
		k = key{bus: k.bus, source: strings.Clone(k.source), id: strings.Clone(k.id)}
	}
	e := h.slot(seq)
	*e = entry{bus: k.bus, source: k.source, id: k.id, hash: hash, added: now.UnixNano(), more: clearRoutes(e.more)}
	h.size++
	h.index.Add(hash, seq, h.head, uint64(h.size))
	return e
}

// slot returns the slot of event seq, whose block exists. h.mu must be
// held.
func (h *History) slot(seq uint64) *entry {
	i := int(seq % uint64(h.max))
	return &h.blocks[i/blockSize][i%blockSize]
}

// forgetOldest frees the slot at the head of the ring; the index forgets
// it by its number. h.mu must be held.
func (h *History) forgetOldest() {
	left := int(h.head % uint64(h.max))
	h.head++
	h.size--
	// A large ring less than half full frees each block the head leaves
	// (its events cannot reach back into it), so a quiet bus whose events
	// age out holds only the blocks its events are in; a fuller ring keeps
	// them, to reuse without allocating.
	if int(h.head%uint64(h.max))%blockSize == 0 && h.size < h.max/2 && h.max >= 2*blockSize {
		h.blocks[left/blockSize] = nil
	}
}

// route returns the record of route r, adding it as pending.
func (e *entry) route(r string) *routeRecord {
	if e.routes > 0 && e.first.name == r {
		return &e.first
	}
	for i := range e.more {
		if e.more[i].name == r {
			return &e.more[i]
		}
	}
	e.routes++
	if e.routes == 1 {
		e.first = routeRecord{name: r, state: Pending}
		return &e.first
	}
	e.more = append(e.more, routeRecord{name: r, state: Pending})
	return &e.more[len(e.more)-1]
}

// clearRoutes empties the routes of a slot about to be reused, keeping
// their array for the next event of several routes but none of what they
// pointed at.
func clearRoutes(more []routeRecord) []routeRecord {
	clear(more)
	return more[:0]
}
