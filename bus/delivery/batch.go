package delivery

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/bus/httpbinding"
	"github.com/eventbus-go/eventbus/internal/cesource"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/verdict"
)

// Batch delivery (a route's delivery.batch) changes how a route's events
// reach their first attempt: a worker receives up to max_events of them
// at once (waiting at most max_wait after the first for the rest), takes
// each through the policy before its attempt (transform, rate, a span),
// sends them as one request, or as few as max_bytes allows, and applies
// the rest of the policy to each on its own: the history records each
// attempt, and each is settled, counted, dead-lettered or retried as it
// would be alone. An event the target asks to retry goes on through the
// policy on a goroutine of its own, so that a retry held (on an ordered
// route, or a backend that cannot delay) does not hold its batch-mates;
// its later attempts are batches of one.
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

// A BatchTarget takes several events in one request. Its Deliver sends a
// batch of one.
type BatchTarget interface {
	Target
	// DeliverBatch sends events and returns the verdict on each, in
	// their order.
	DeliverBatch(ctx context.Context, events []*event.Event) []Outcome
}

// workBatches is a batch route's worker: it receives a batch, delivers it,
// and settles its events, until the dispatcher stops receiving.
func (d *Dispatcher) workBatches() {
	var dec adapters.Decoder // this worker's own, so it parses a source once
	for {
		msgs, err := d.receiveBatch()
		if err != nil {
			d.stoppedReceiving(err)
			return
		}
		d.busy.Add(int64(len(msgs)))
		d.deliverBatch(&dec, msgs)
	}
}

// receiveBatch waits for the next event, then takes what else comes
// within max_wait, up to max_events and while max_inflight leaves room.
// Each event it returns holds a slot until it is settled (finish). One
// batch fills at a time, so that a batch is full before the next opens;
// the workers take turns, one filling while the others send.
func (d *Dispatcher) receiveBatch() ([]adapters.Received, error) {
	b := d.route.Delivery.Batch
	d.filling.Lock()
	defer d.filling.Unlock()
	if err := d.slots.Acquire(d.receiving, 1); err != nil {
		return nil, err
	}
	msgs, err := d.receiveUpTo(d.receiving, 1+d.reserveSlots(b.MaxEvents-1))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(d.receiving, time.Duration(b.MaxWait))
	defer cancel()
	for len(msgs) < b.MaxEvents {
		n := d.reserveSlots(b.MaxEvents - len(msgs))
		if n == 0 {
			break // max_inflight is taken: send what came
		}
		more, err := d.receiveUpTo(ctx, n)
		if err != nil {
			break // max_wait passed, or the dispatcher stops receiving
		}
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

// reserveSlots takes up to n slots without waiting and returns how many.
func (d *Dispatcher) reserveSlots(n int) int {
	for ; n > 0; n /= 2 {
		if d.slots.TryAcquire(int64(n)) {
			return n
		}
	}
	return 0
}

// receiveUpTo receives up to n events, whose slots the caller holds, and
// gives back the slots of those that did not come.
func (d *Dispatcher) receiveUpTo(ctx context.Context, n int) ([]adapters.Received, error) {
	msgs, err := d.sub.ReceiveUpTo(ctx, n)
	d.slots.Release(int64(n - len(msgs)))
	return msgs, err
}

// deliverBatch takes received events through the policy, with one request
// for their first attempts.
func (d *Dispatcher) deliverBatch(dec *adapters.Decoder, msgs []adapters.Received) {
	attempts := make([]*attempt, 0, len(msgs))
	ctxs := make([]context.Context, 0, len(msgs))
	for i := range msgs {
		a := d.receive(dec, &msgs[i])
		if a == nil { // not a CloudEvent: receive settled it
			d.free()
			continue
		}
		ctx := d.eventContext(a)
		if out, ok := d.transform(ctx, a); !ok {
			d.finish(a, d.keepRefused(ctx, a, out))
			continue
		}
		if out, ok := d.waitRate(); !ok {
			d.finish(a, out)
			continue
		}
		attempts = append(attempts, a)
		ctxs = append(ctxs, ctx)
	}
	if len(attempts) == 0 {
		return
	}
	spans := make([]trace.Span, len(attempts))
	events := make([]*event.Event, len(attempts))
	for i, a := range attempts {
		var ctx context.Context
		ctx, spans[i] = d.startSpan(ctxs[i], a)
		events[i] = withTraceContext(ctx, cmp.Or(a.sent, a.event))
	}
	start := time.Now()
	outs := d.batches.DeliverBatch(d.attempts, events)
	for i, a := range attempts {
		ctx := ctxs[i]
		out := d.attempted(ctx, a, start, outs[i])
		d.record(a, start, out)
		endSpan(spans[i], a, out)
		if out.Verdict == verdict.Retry && ctx.Err() == nil {
			d.workers.Go(func() { d.finish(a, d.keepRefused(ctx, a, d.retry(ctx, a, out))) })
			continue
		}
		d.finish(a, d.keepRefused(ctx, a, out))
	}
}

// finish settles a batch route's event and frees its slot.
func (d *Dispatcher) finish(a *attempt, out Outcome) {
	d.settle(a, out)
	d.free()
}

// free gives back the slot of a batch route's event, settled.
func (d *Dispatcher) free() {
	d.busy.Add(-1)
	d.slots.Release(1)
}

// BatchingTarget sends a route's events to its HTTP target in batches.
type BatchingTarget struct {
	target   *HTTPTarget
	maxBytes int
}

var _ BatchTarget = (*BatchingTarget)(nil)

// Batched returns t as the route's target: t itself without
// delivery.batch, otherwise t taking batches. Pass a route with its
// defaults applied.
func Batched(t *HTTPTarget, r *router.Route) Target {
	b := r.Delivery.Batch
	if b == nil {
		return t
	}
	return &BatchingTarget{target: t, maxBytes: b.MaxBytes}
}

// Deliver sends e as a batch of one.
func (bt *BatchingTarget) Deliver(ctx context.Context, e *event.Event) Outcome {
	return bt.DeliverBatch(ctx, []*event.Event{e})[0]
}

// DeliverBatch sends events in as few requests as max_bytes allows, one
// after another; an event larger than max_bytes goes alone.
func (bt *BatchingTarget) DeliverBatch(ctx context.Context, events []*event.Event) []Outcome {
	outs := make([]Outcome, len(events))
	b := &batch{
		body:    make([]byte, 0, min(bt.maxBytes, 64<<10)),
		members: make([]member, 0, len(events)),
		places:  make([]int, 0, len(events)),
	}
	for i, e := range events {
		added, err := b.add(e, i, bt.maxBytes)
		if err == nil && !added { // e starts the next request
			bt.send(ctx, b, outs)
			b = &batch{body: make([]byte, 0, cap(b.body)), members: b.members[:0], places: b.places[:0]}
			_, err = b.add(e, i, bt.maxBytes)
		}
		if err != nil {
			outs[i] = Outcome{Verdict: verdict.DeadLetter, Reason: "encoding the event for a batch: " + err.Error()}
		}
	}
	if len(b.members) > 0 {
		bt.send(ctx, b, outs)
	}
	return outs
}

// send posts b and sets the verdict on each of its events in outs.
func (bt *BatchingTarget) send(ctx context.Context, b *batch, outs []Outcome) {
	b.body = append(b.body, ']')
	for j, out := range bt.target.deliverBatch(ctx, b.body, b.members) {
		outs[b.places[j]] = out
	}
}

// batch is one batch request being written.
type batch struct {
	// body is "[" and the members' JSON, comma-separated; send closes it.
	// Each request has a body of its own: net/http's client may still
	// read one after its answer came.
	body    []byte
	members []member // the events in it
	places  []int    // places[j] is members[j]'s place in the events delivered
}

type member struct{ source, id string }

// add writes e, at place in the events delivered, into b. It reports false,
// leaving b as it was, when e would take b past maxBytes and b holds an
// event already: e then goes in the next request.
func (b *batch) add(e *event.Event, place, maxBytes int) (bool, error) {
	mark := len(b.body)
	if len(b.members) == 0 {
		b.body = append(b.body, '[')
	} else {
		b.body = append(b.body, ',')
	}
	var err error
	if b.body, err = httpbinding.AppendStructured(b.body, e); err != nil {
		b.body = b.body[:mark]
		return false, err
	}
	if len(b.members) > 0 && len(b.body)+1 > maxBytes { // and the closing ]
		b.body = b.body[:mark]
		return false, nil
	}
	b.members = append(b.members, member{source: cesource.Of(e), id: e.ID()})
	b.places = append(b.places, place)
	return true, nil
}

// deliverBatch posts a batch request's body, holding members, and returns
// the verdict on each member. The request carries the route's headers,
// credentials and signature as a single delivery does, and goes on the
// target's plainClient over plain HTTP, as a single delivery does.
func (t *HTTPTarget) deliverBatch(ctx context.Context, body []byte, members []member) []Outcome {
	var a batchAnswer
	var o Outcome
	var ok bool
	if t.plain != nil && !t.plainOff.Load() {
		a, o, ok = t.postBatchPlain(ctx, body, members)
	} else {
		a, o, ok = t.postBatch(ctx, body, members)
	}
	if !ok {
		return sameOutcome(o, len(members))
	}
	t.answered(a.status)
	results, err := readResults(a.contentType, a.body, a.readErr)
	switch {
	case err != nil:
		return sameOutcome(Outcome{Verdict: verdict.Retry, Status: a.status, Reason: err.Error()}, len(members))
	case results == nil:
		start := strings.TrimSpace(string(a.body[:min(len(a.body), 256)]))
		return sameOutcome(t.judgeStatus(a.status, a.verdict, a.retryAfter, start), len(members))
	}
	return t.judgeResults(a, members, results)
}

// sameOutcome is o for each of n events.
func sameOutcome(o Outcome, n int) []Outcome {
	out := make([]Outcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

// batchAnswer is what a target answered to a batch request.
type batchAnswer struct {
	status                           int
	contentType, verdict, retryAfter string // "" when absent
	body                             []byte // up to maxResultsBytes+1 of it
	readErr                          error  // reading body
}

// writeBatchHeaders sets on h what a batch request carries besides its
// body: the route's headers, the batch's content type, the target's
// credentials and the signature. When it cannot, it returns the outcome
// of the request's every event and false.
func (t *HTTPTarget) writeBatchHeaders(ctx context.Context, h httpbinding.Header, body []byte, members []member) (Outcome, bool) {
	for k, v := range t.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", BatchContentType)
	if t.auth != nil {
		if err := t.auth.authorize(ctx, h); err != nil {
			return Outcome{Verdict: verdict.Retry, Reason: err.Error()}, false
		}
	}
	if t.signer != nil {
		t.signer.sign(h, batchWebhookID(t.bus, members), body)
	}
	return Outcome{}, true
}

// postBatchPlain posts a batch on the target's plainClient. When it gets
// no answer, it returns the outcome of the batch's every event and false.
func (t *HTTPTarget) postBatchPlain(ctx context.Context, body []byte, members []member) (batchAnswer, Outcome, bool) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(http.MethodPost)
	req.SetRequestURI(t.url)
	if o, ok := t.writeBatchHeaders(ctx, &req.Header, body, members); !ok {
		return batchAnswer{}, o, false
	}
	req.SetBodyRaw(body)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := t.plain.do(ctx, req, resp, t.timeout); err != nil {
		if errors.Is(err, errAnswerHeaderTooLarge) {
			t.plainOff.Store(true)
		}
		return batchAnswer{}, Outcome{Verdict: verdict.Retry, Reason: t.postFailed(err).Error()}, false
	}
	a := batchAnswer{
		status:      resp.StatusCode(),
		contentType: string(resp.Header.ContentType()),
		verdict:     string(resp.Header.Peek(VerdictHeader)),
		retryAfter:  string(resp.Header.Peek("Retry-After")),
	}
	answer := answerBody(resp)
	a.body, a.readErr = io.ReadAll(io.LimitReader(answer, maxResultsBytes+1))
	drainAnswer(answer)
	_ = resp.CloseBodyStream()
	return a, Outcome{}, true
}

// postBatch posts a batch on the target's net/http client. When it gets no
// answer, it returns the outcome of the batch's every event and false.
func (t *HTTPTarget) postBatch(ctx context.Context, body []byte, members []member) (batchAnswer, Outcome, bool) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return batchAnswer{}, Outcome{Verdict: verdict.DeadLetter, Reason: err.Error()}, false
	}
	if o, ok := t.writeBatchHeaders(ctx, req.Header, body, members); !ok {
		return batchAnswer{}, o, false
	}
	resp, err := t.send(req)
	if err != nil {
		return batchAnswer{}, Outcome{Verdict: verdict.Retry, Reason: err.Error()}, false
	}
	defer resp.Body.Close()
	a := batchAnswer{
		status:      resp.StatusCode,
		contentType: resp.Header.Get("Content-Type"),
		verdict:     resp.Header.Get(VerdictHeader),
		retryAfter:  resp.Header.Get("Retry-After"),
	}
	a.body, a.readErr = io.ReadAll(io.LimitReader(resp.Body, maxResultsBytes+1))
	drainAnswer(resp.Body)
	return a, Outcome{}, true
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
func (t *HTTPTarget) judgeResults(a batchAnswer, members []member, results []BatchResult) []Outcome {
	byEvent := make(map[member][]int, len(results))
	for i, r := range results {
		m := member{source: r.Source, id: r.ID}
		byEvent[m] = append(byEvent[m], i)
	}
	out := make([]Outcome, len(members))
	for i, m := range members {
		idx := byEvent[m]
		if len(idx) == 0 {
			out[i] = Outcome{Verdict: verdict.Retry, Status: a.status, Reason: fmt.Sprintf("the target's batch results (answer %d) have no result for this event", a.status)}
			continue
		}
		byEvent[m] = idx[1:]
		r := results[idx[0]]
		if r.Status == 0 && r.Verdict != "" {
			r.Status = a.status // the verdict decides; the answer's status stands in
		}
		if r.Status < 100 || r.Status > 599 {
			out[i] = Outcome{Verdict: verdict.Retry, Status: a.status, Reason: fmt.Sprintf("the target's batch result for this event has status %d, which is not an HTTP status", r.Status)}
			continue
		}
		out[i] = t.judgeStatus(r.Status, r.Verdict, a.retryAfter, "")
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
