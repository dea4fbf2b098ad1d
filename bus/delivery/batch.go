package delivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/bus/httpbinding"
	"github.com/eventbus-go/eventbus/internal/cesource"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/verdict"
)

// Batch delivery (a route's delivery.batch) changes only the innermost
// attempt: every event still goes through its route's steps on its own
// worker (retry, dead letters, rate, tracing, history) and is settled on
// its own. Its attempt joins the batch that is filling, and returns the
// batch's verdict on it. The first event of a batch leads it: its worker
// waits until the batch is full or max_wait has passed, sends it, and
// hands every member its outcome. So a batch costs one timer and no
// goroutine, and waiting stops with the attempt's context.
//
// Ordering holds by construction: an ordered subscription hands out the
// next event of a key only once the one before is settled, so a batch
// never holds two events of one key.

// BatchContentType is the media type of a batch request: a JSON array of
// structured CloudEvents (the CloudEvents HTTP binding's batched mode).
const BatchContentType = "application/cloudevents-batch+json"

// maxResultsBytes bounds how much of a batch answer the bus reads for its
// per-event results.
const maxResultsBytes = 1 << 20

// BatchResults is the answer body by which a target gives a verdict per
// event of a batch, sent with Content-Type application/json and any status.
// Each result names its event by source and id; Status is judged as the
// status of a request holding that event alone, and Verdict, when set,
// overrides it as the Eventbus-Verdict header does. An event the results
// do not name is retried.
type BatchResults struct {
	Results []BatchResult `json:"results"`
}

// BatchResult is the target's verdict on one event of a batch.
type BatchResult struct {
	ID      string `json:"id"`
	Source  string `json:"source"`
	Status  int    `json:"status"`
	Verdict string `json:"verdict,omitempty"`
}

// BatchingTarget gathers the events of a route's concurrent deliveries into
// batches for its HTTP target.
type BatchingTarget struct {
	target    *HTTPTarget
	maxEvents int
	maxBytes  int
	maxWait   time.Duration

	mu   sync.Mutex
	open *batch // the batch taking events; nil when none is
}

var _ Target = (*BatchingTarget)(nil)

// Batched returns t as the route's target: t itself without
// delivery.batch, otherwise t sending batches. Pass a route with its
// defaults applied.
func Batched(t *HTTPTarget, r *router.Route) Target {
	b := r.Delivery.Batch
	if b == nil {
		return t
	}
	return &BatchingTarget{target: t, maxEvents: b.MaxEvents, maxBytes: b.MaxBytes, maxWait: time.Duration(b.MaxWait)}
}

// encodings are the buffers events are encoded in before join copies them
// into a batch, reused so that an event's encoding allocates nothing;
// one that grew past maxPooledEncoding is left to the collector.
var encodings = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

const maxPooledEncoding = 64 << 10

// batch is a batch filling, then sent; its leader owns it once it is sealed.
type batch struct {
	body    []byte // "[" and the members' JSON, comma-separated
	members []member
	sealed  chan struct{} // closed when a member makes the batch full
	done    chan struct{} // closed once outcomes holds a verdict per member
	// outcomes[i] is the verdict on members[i].
	outcomes []Outcome
}

type member struct{ source, id string }

// Deliver adds e to the batch filling and returns the batch's verdict on
// it, once the batch was sent.
func (bt *BatchingTarget) Deliver(ctx context.Context, e *event.Event) Outcome {
	// Each event carries the trace context of its own attempt.
	scratch := encodings.Get().(*[]byte)
	enc, err := httpbinding.AppendStructured((*scratch)[:0], withTraceContext(ctx, e))
	if err != nil {
		encodings.Put(scratch)
		return Outcome{Verdict: verdict.DeadLetter, Reason: "encoding the event for a batch: " + err.Error()}
	}
	b, i, leader := bt.join(enc, member{source: cesource.Of(e), id: e.ID()})
	if cap(enc) <= maxPooledEncoding {
		*scratch = enc
		encodings.Put(scratch) // join copied it into the batch
	}
	if leader {
		bt.lead(ctx, b)
	} else {
		// The leader's wait is bounded by max_wait and its request by the
		// target's timeout, and both end with the dispatcher's context.
		<-b.done
	}
	return b.outcomes[i]
}

// join adds an encoded event to the batch filling, opening one if none is
// or if the event would take it past max_bytes, and seals the batch when
// it is full. It returns the batch, the event's place in it, and whether
// the caller opened it and so leads it.
func (bt *BatchingTarget) join(enc []byte, m member) (b *batch, i int, leader bool) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.open != nil && len(bt.open.body)+len(enc)+2 > bt.maxBytes { // a comma and the closing ]
		bt.seal()
	}
	if bt.open == nil {
		bt.open = &batch{
			body:    append(make([]byte, 0, min(bt.maxBytes, 64<<10)), '['),
			members: make([]member, 0, bt.maxEvents),
			sealed:  make(chan struct{}),
			done:    make(chan struct{}),
		}
		leader = true
	}
	b = bt.open
	if len(b.members) > 0 {
		b.body = append(b.body, ',')
	}
	b.body = append(b.body, enc...)
	b.members = append(b.members, m)
	if len(b.members) >= bt.maxEvents || len(b.body)+1 >= bt.maxBytes {
		bt.seal()
	}
	return b, len(b.members) - 1, leader
}

// seal closes the open batch to new events and wakes its leader. The
// caller holds bt.mu.
func (bt *BatchingTarget) seal() {
	close(bt.open.sealed)
	bt.open = nil
}

// lead waits until b is full, max_wait has passed since it opened, or ctx
// ends; then sends it and hands its members their outcomes.
func (bt *BatchingTarget) lead(ctx context.Context, b *batch) {
	timer := time.NewTimer(bt.maxWait)
	select {
	case <-b.sealed:
	case <-timer.C:
	case <-ctx.Done():
	}
	timer.Stop()
	bt.mu.Lock()
	if bt.open == b {
		bt.open = nil // no one waits on b.sealed but the leader
	}
	bt.mu.Unlock()
	b.outcomes = bt.target.deliverBatch(ctx, b)
	close(b.done)
}

// deliverBatch posts b and returns the verdict on each of its members. The
// request carries the route's headers, credentials and signature as a
// single delivery does.
func (t *HTTPTarget) deliverBatch(ctx context.Context, b *batch) []Outcome {
	all := func(o Outcome) []Outcome {
		out := make([]Outcome, len(b.members))
		for i := range out {
			out[i] = o
		}
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	body := append(b.body, ']')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return all(Outcome{Verdict: verdict.DeadLetter, Reason: err.Error()})
	}
	for k, v := range t.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", BatchContentType)
	if t.auth != nil {
		if err := t.auth.authorize(ctx, req.Header); err != nil {
			return all(Outcome{Verdict: verdict.Retry, Reason: err.Error()})
		}
	}
	if t.signer != nil {
		t.signer.sign(req.Header, batchWebhookID(t.bus, b.members), body)
	}
	resp, err := t.send(req)
	if err != nil {
		return all(Outcome{Verdict: verdict.Retry, Reason: err.Error()})
	}
	defer resp.Body.Close()
	t.answered(resp.StatusCode)
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResultsBytes+1))
	drainAnswer(resp.Body)
	results, err := readResults(resp.Header.Get("Content-Type"), answer, err)
	switch {
	case err != nil:
		return all(Outcome{Verdict: verdict.Retry, Status: resp.StatusCode, Reason: err.Error()})
	case results == nil:
		return all(t.judge(resp, strings.TrimSpace(string(answer[:min(len(answer), 256)]))))
	}
	return t.judgeResults(resp, b.members, results)
}

// readResults reads an answer's per-event results: nil when the answer has
// none (not JSON, or JSON without a results array), so its status decides
// for the whole batch; an error when it has results the bus cannot read in
// full, so the whole batch is retried rather than any verdict guessed.
func readResults(contentType string, answer []byte, readErr error) ([]BatchResult, error) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/json" {
		return nil, nil
	}
	if readErr != nil {
		return nil, fmt.Errorf("reading the target's batch answer: %w", readErr)
	}
	if len(answer) > maxResultsBytes {
		return nil, fmt.Errorf("the target's batch answer is over %d bytes; the bus reads results only up to that", maxResultsBytes)
	}
	var probe struct {
		Results json.RawMessage `json:"results"`
	}
	if json.Unmarshal(answer, &probe) != nil || len(probe.Results) == 0 || probe.Results[0] != '[' {
		return nil, nil
	}
	var rs BatchResults
	if err := json.Unmarshal(answer, &rs); err != nil {
		return nil, fmt.Errorf("the target's batch results are not {\"results\":[{\"id\":…,\"source\":…,\"status\":…}]}: %v", err)
	}
	return rs.Results, nil
}

// judgeResults gives each member the verdict of its result: the first
// result naming its source and id not taken by an earlier member (a batch
// may hold the same event twice, after a redrive).
func (t *HTTPTarget) judgeResults(resp *http.Response, members []member, results []BatchResult) []Outcome {
	byEvent := make(map[member][]int, len(results))
	for i, r := range results {
		m := member{source: r.Source, id: r.ID}
		byEvent[m] = append(byEvent[m], i)
	}
	retryAfter := resp.Header.Get("Retry-After")
	out := make([]Outcome, len(members))
	for i, m := range members {
		idx := byEvent[m]
		if len(idx) == 0 {
			out[i] = Outcome{Verdict: verdict.Retry, Status: resp.StatusCode, Reason: fmt.Sprintf("the target's batch results (answer %d) have no result for this event", resp.StatusCode)}
			continue
		}
		byEvent[m] = idx[1:]
		r := results[idx[0]]
		if r.Status == 0 && r.Verdict != "" {
			r.Status = resp.StatusCode // the verdict decides; the answer's status stands in
		}
		if r.Status < 100 || r.Status > 599 {
			out[i] = Outcome{Verdict: verdict.Retry, Status: resp.StatusCode, Reason: fmt.Sprintf("the target's batch result for this event has status %d, which is not an HTTP status", r.Status)}
			continue
		}
		out[i] = t.judgeStatus(r.Status, r.Verdict, retryAfter, "")
		out[i].Reason = "in its batch results, " + out[i].Reason
	}
	return out
}

// batchWebhookID names a batch for its receivers: a hash of its events, so
// the same events in the same order get the same id. A retried event most
// often travels in another batch, with another id: receivers deduplicate
// each event on its source and id.
func batchWebhookID(bus string, members []member) string {
	h := sha256.New()
	h.Write([]byte(bus))
	h.Write([]byte{0})
	for _, m := range members {
		h.Write([]byte(m.source))
		h.Write([]byte{0})
		h.Write([]byte(m.id))
		h.Write([]byte{0})
	}
	return "msg_" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}
