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

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/valyala/fasthttp"

	"github.com/eventbus-go/eventbus/bus/httpbinding"
	"github.com/eventbus-go/eventbus/internal/cesource"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/verdict"
)

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

// HTTPBatchTarget sends a route's events to its HTTP target in batch
// requests.
type HTTPBatchTarget struct {
	target   *HTTPTarget
	maxBytes int
}

var _ BatchTarget = (*HTTPBatchTarget)(nil)

// Batched returns t as the route's target: t itself without
// delivery.batch, otherwise t taking batches. Pass a route with its
// defaults applied.
func Batched(t *HTTPTarget, r *router.Route) Target {
	b := r.Delivery.Batch
	if b == nil {
		return t
	}
	return &HTTPBatchTarget{target: t, maxBytes: b.MaxBytes}
}

// Deliver sends e as a batch of one, with the attempt's trace context.
func (bt *HTTPBatchTarget) Deliver(ctx context.Context, e *event.Event) Outcome {
	return bt.DeliverBatch(ctx, []*event.Event{withTraceContext(ctx, e)})[0]
}

// DeliverBatch sends events in as few requests as max_bytes allows, at
// once; an event larger than max_bytes goes alone.
func (bt *HTTPBatchTarget) DeliverBatch(ctx context.Context, events []*event.Event) []Outcome {
	outs := make([]Outcome, len(events))
	var requests []*batchRequest
	b := bt.newRequest(len(events))
	for i, e := range events {
		added, err := b.add(e, i, bt.maxBytes)
		if err == nil && !added { // e starts the next request
			requests = append(requests, b)
			b = bt.newRequest(len(events) - i)
			_, err = b.add(e, i, bt.maxBytes)
		}
		if err != nil {
			outs[i] = Outcome{Verdict: verdict.DeadLetter, Reason: "encoding the event for a batch: " + err.Error()}
		}
	}
	if len(b.members) > 0 {
		requests = append(requests, b)
	}
	if len(requests) == 1 {
		bt.send(ctx, requests[0], outs)
		return outs
	}
	var sending sync.WaitGroup
	for _, b := range requests {
		sending.Go(func() { bt.send(ctx, b, outs) }) // each sets the outcomes of its own events
	}
	sending.Wait()
	return outs
}

// newRequest is an empty request for up to n events, written into a
// buffer of batchBodies; send gives it back when the client is done with
// it.
func (bt *HTTPBatchTarget) newRequest(n int) *batchRequest {
	pooled := batchBodies.Get().(*[]byte)
	return &batchRequest{body: (*pooled)[:0], pooled: pooled, members: make([]member, 0, n), places: make([]int, 0, n)}
}

// batchBodies are the buffers of batch requests, reused: a batch's body
// is tens of kilobytes, written for every request. One that net/http's
// client may still read, or one over maxPooledBatchBody bytes, is left to
// the collector instead.
var batchBodies = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledBatchBody = 1 << 20

// send posts b and sets the verdict on each of its events in outs.
func (bt *HTTPBatchTarget) send(ctx context.Context, b *batchRequest, outs []Outcome) {
	b.body = append(b.body, ']')
	answered, bodyDone := bt.target.sendBatch(ctx, b.body, b.members)
	for j, out := range answered {
		outs[b.places[j]] = out
	}
	if bodyDone && cap(b.body) <= maxPooledBatchBody {
		*b.pooled = b.body
		batchBodies.Put(b.pooled)
	}
}

// batchRequest is one batch request being written.
type batchRequest struct {
	body    []byte   // "[" and the members' JSON, comma-separated; send closes it
	pooled  *[]byte  // body's place in batchBodies, where send gives it back
	members []member // the events in it
	places  []int    // places[j] is members[j]'s place in the events delivered
}

type member struct{ source, id string }

// add writes e, at place in the events delivered, into b. It reports false,
// leaving b as it was, when e would take b past maxBytes and b holds an
// event already: e then goes in the next request.
func (b *batchRequest) add(e *event.Event, place, maxBytes int) (bool, error) {
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

// sendBatch posts a batch request's body, holding members, and returns
// the verdict on each member. The request carries the route's headers,
// credentials and signature as a single delivery does, and goes on the
// target's plainClient over plain HTTP, as a single delivery does.
// bodyDone reports whether the client is done with body: the plain client
// is once it returns; net/http's may still read it.
func (t *HTTPTarget) sendBatch(ctx context.Context, body []byte, members []member) (outs []Outcome, bodyDone bool) {
	var a batchAnswer
	var o Outcome
	var ok bool
	if bodyDone = t.onPlain(); bodyDone {
		a, o, ok = t.postBatchPlain(ctx, body, members)
	} else {
		a, o, ok = t.postBatch(ctx, body, members)
	}
	if !ok {
		return sameOutcome(o, len(members)), bodyDone
	}
	return t.judgeBatch(a, members), bodyDone
}

// judgeBatch is the verdict on each member of a batch, from the target's
// answer.
func (t *HTTPTarget) judgeBatch(a batchAnswer, members []member) []Outcome {
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
	if o, ok := t.doPlain(ctx, req, resp); !ok {
		return batchAnswer{}, o, false
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
