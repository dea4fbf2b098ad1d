package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/valyala/fasthttp"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/bus/httpbinding"
	"github.com/eventbus-go/eventbus/bus/tracing"
	"github.com/eventbus-go/eventbus/internal/cesource"
	"github.com/eventbus-go/eventbus/plugins"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/verdict"
)

// Outcome is the result of one delivery attempt.
type Outcome struct {
	Verdict    verdict.Verdict
	RetryAfter time.Duration // with verdict.Retry: wait at least this long
	Status     int           // the target's HTTP status, if it answered
	Reason     string        // why, when it is not an ack
}

// Target receives a route's events.
type Target interface {
	Deliver(ctx context.Context, e *event.Event) Outcome
}

var (
	_ Target = (*HTTPTarget)(nil)
	_ Target = (*TopicTarget)(nil)
	_ Target = (*PluginTarget)(nil)
)

// VerdictHeader lets an HTTP target say exactly what it wants done with the
// event, whatever its status code: ack, retry, drop or dead-letter.
const VerdictHeader = "Eventbus-Verdict"

// httpTarget posts each event in CloudEvents binary mode, signed (Standard
// Webhooks) unless the route turned signing off, with the target's
// credentials if it has auth. The answer decides: 2xx acks; 429 and 503
// retry after their Retry-After; other 4xx dead-letter at once (or retry,
// with client_errors: retry); 5xx, a timeout or a refused connection retry.
// An Eventbus-Verdict header overrides the status. Credentials that cannot
// be had (an OAuth2 token endpoint failing) retry.
//
// Over plain HTTP (an http:// URL, no proxy in the way) each event and
// each batch goes on the target's plainClient; otherwise, and for OAuth2
// tokens, on its net/http client, which speaks HTTP/2 where an https://
// target offers it.
type HTTPTarget struct {
	client *http.Client
	plain  *plainClient // nil: every request on client
	// plainOff: the target answered with more headers than plain reads;
	// its deliveries go on client from then on.
	plainOff     atomic.Bool
	bus          string
	url          string
	headers      map[string]string
	timeout      time.Duration
	retryClient4 bool
	signer       *signer    // nil: unsigned
	auth         authorizer // nil: no credentials
}

// HTTPTargets opens the HTTP targets of a bus's routes, each with a
// client of its own (see newTargetClient).
type HTTPTargets struct {
	now func() time.Time
}

// NewHTTPTargets returns the opener of a bus's HTTP targets.
func NewHTTPTargets() *HTTPTargets {
	return &HTTPTargets{now: time.Now}
}

// Open returns the target of r, an HTTP route. Close it when the route
// stops delivering.
func (ts *HTTPTargets) Open(r *router.Route) (*HTTPTarget, error) {
	return newHTTPTarget(newTargetClient(r), r, ts.now)
}

// Close closes the target's idle connections.
func (t *HTTPTarget) Close(context.Context) error {
	t.client.CloseIdleConnections()
	if t.plain != nil {
		t.plain.closeIdle()
	}
	return nil
}

func newHTTPTarget(client *http.Client, r *router.Route, now func() time.Time) (*HTTPTarget, error) {
	t := r.Target.HTTP
	sg, err := newSigner(t.Signing, now)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(t.Timeout)
	target, auth := t.URL, newAuthorizer(t.Auth, client, timeout, now)
	u, err := url.Parse(t.URL)
	if err != nil {
		return nil, err // validated on save
	}
	if u.User != nil {
		// Credentials in the URL are basic auth, as net/http's client
		// takes them, and stay out of requests' URLs and errors.
		if auth == nil {
			password, _ := u.User.Password()
			auth = newBasicAuth(router.BasicAuth{Username: u.User.Username(), Password: password})
		}
		u.User = nil
		target = u.String()
	}
	return &HTTPTarget{
		client:       client,
		plain:        plainClientFor(client, u),
		bus:          r.Bus,
		url:          target,
		headers:      targetHeaders(t.Headers),
		timeout:      timeout,
		retryClient4: r.Delivery.ClientErrors == router.ClientErrorsRetry,
		signer:       sg,
		auth:         auth,
	}, nil
}

// userAgent names the bus to its targets, unless a route's headers name
// it otherwise.
const userAgent = "eventbus"

// targetHeaders returns the headers a route adds to every request, with
// their keys as net/http spells them, so that a delivery sets them without
// canonicalising each, and a User-Agent.
func targetHeaders(headers map[string]string) map[string]string {
	out := make(map[string]string, len(headers)+1)
	out["User-Agent"] = userAgent
	for k, v := range headers {
		out[http.CanonicalHeaderKey(k)] = v
	}
	return out
}

// Signed reports whether the target's deliveries carry a signature.
func (t *HTTPTarget) Signed() bool { return t.signer != nil }

func (t *HTTPTarget) Deliver(ctx context.Context, e *event.Event) Outcome {
	if t.onPlain() {
		return t.deliverPlain(ctx, e)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(e.Data()))
	if err != nil {
		return Outcome{Verdict: verdict.DeadLetter, Reason: err.Error()}
	}
	if o, ok := t.writeHeaders(ctx, req.Header, e); !ok {
		return o
	}
	resp, err := t.send(req)
	if err != nil {
		return Outcome{Verdict: verdict.Retry, Reason: err.Error()}
	}
	t.answered(resp.StatusCode)
	start := answerStart(resp.Body)
	resp.Body.Close()
	return t.judge(resp, start)
}

// drainAnswer reads and drops up to 64 KiB of what is left of an answer's
// body, so that its connection is reused; past that, closing the body
// closes the connection.
func drainAnswer(body io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
}

// answerStart reads the start of an answer's body, for the reason, and
// drains a longer one.
func answerStart(body io.Reader) string {
	var start [256]byte
	n, err := io.ReadFull(body, start[:])
	if err == nil {
		drainAnswer(body)
	}
	return string(bytes.TrimSpace(start[:n]))
}

// answered tells the target's credentials that the target refused them,
// when it answered 401.
func (t *HTTPTarget) answered(status int) {
	if status == http.StatusUnauthorized && t.auth != nil {
		t.auth.rejected()
	}
}

// postFailed is the error of a request to the target that got no answer.
func (t *HTTPTarget) postFailed(err error) error {
	return &url.Error{Op: "Post", URL: t.url, Err: err}
}

// onPlain reports whether the target's requests go on its plainClient.
func (t *HTTPTarget) onPlain() bool { return t.plain != nil && !t.plainOff.Load() }

// doPlain sends req on the target's plainClient and reads resp's status and
// headers. When it gets no answer, it returns the attempt's outcome, a
// retry, and false; an answer with more headers than plain reads moves
// the target's requests to net/http's client from then on.
func (t *HTTPTarget) doPlain(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) (Outcome, bool) {
	err := t.plain.do(ctx, req, resp, t.timeout)
	if err == nil {
		return Outcome{}, true
	}
	if errors.Is(err, errAnswerHeaderTooLarge) {
		t.plainOff.Store(true)
	}
	return Outcome{Verdict: verdict.Retry, Reason: t.postFailed(err).Error()}, false
}

// deliverPlain is Deliver on the target's plainClient.
func (t *HTTPTarget) deliverPlain(ctx context.Context, e *event.Event) Outcome {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(http.MethodPost)
	req.Header.SetNoDefaultContentType(true) // an event without datacontenttype has none
	req.SetRequestURI(t.url)
	if o, ok := t.writeHeaders(ctx, &req.Header, e); !ok {
		return o
	}
	req.SetBodyRaw(e.Data())
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if o, ok := t.doPlain(ctx, req, resp); !ok {
		return o
	}
	code := resp.StatusCode()
	t.answered(code)
	verdictValue := string(resp.Header.Peek(VerdictHeader))
	var start string
	if plainAck(code, verdictValue) {
		// The common case: the body says nothing the outcome needs, and
		// is most often empty.
		if body := resp.BodyStream(); body != nil && resp.Header.ContentLength() != 0 {
			drainAnswer(body)
		}
	} else {
		start = answerStart(answerBody(resp))
	}
	_ = resp.CloseBodyStream()
	return t.judgeStatus(code, verdictValue, string(resp.Header.Peek("Retry-After")), start)
}

// writeHeaders sets on h what a delivery of e carries besides its data:
// the route's headers, e's attributes in binary mode, the attempt's trace
// context, the target's credentials and the signature. When it cannot, it
// returns the attempt's outcome and false.
func (t *HTTPTarget) writeHeaders(ctx context.Context, h httpbinding.Header, e *event.Event) (Outcome, bool) {
	for k, v := range t.headers {
		h.Set(k, v)
	}
	if err := httpbinding.Write(h, e); err != nil {
		return Outcome{Verdict: verdict.DeadLetter, Reason: err.Error()}, false
	}
	tracing.ToHeader(ctx, h)
	if t.auth != nil {
		if err := t.auth.authorize(ctx, h); err != nil {
			return Outcome{Verdict: verdict.Retry, Reason: err.Error()}, false
		}
	}
	if t.signer != nil {
		t.signer.sign(h, webhookID(t.bus, cesource.Of(e), e.ID()), e.Data())
	}
	return Outcome{}, true
}

// send makes one request to the target on its net/http client. It follows
// no redirect: a route's URL is where its events go, and a 3xx is judged
// like any other status. (http.Client, which would follow one, copies
// every request's headers in case it does.)
func (t *HTTPTarget) send(req *http.Request) (*http.Response, error) {
	resp, err := t.client.Transport.RoundTrip(req)
	if err != nil {
		return nil, t.postFailed(err)
	}
	return resp, nil
}

func (t *HTTPTarget) judge(resp *http.Response, body string) Outcome {
	return t.judgeStatus(resp.StatusCode, resp.Header.Get(VerdictHeader), resp.Header.Get("Retry-After"), body)
}

// judgeStatus is the verdict on an answer: its status code, the value of
// its Eventbus-Verdict and Retry-After ("" when absent), and the start of
// its body, for the reason.
func (t *HTTPTarget) judgeStatus(code int, verdictValue, retryAfter, body string) Outcome {
	if plainAck(code, verdictValue) {
		return Outcome{Verdict: verdict.Ack, Status: code} // nothing more to say
	}
	o := Outcome{Status: code, RetryAfter: parseRetryAfter(retryAfter, time.Now())}
	o.Reason = "target answered " + strconv.Itoa(code) + " " + http.StatusText(code)
	if body != "" {
		o.Reason += fmt.Sprintf(": %q", body)
	}
	if v := verdictValue; v != "" {
		asked, ok := verdict.Parse(strings.ToLower(strings.TrimSpace(v)))
		if !ok {
			o.Verdict = verdict.Retry
			o.Reason = fmt.Sprintf("target answered %s: %q, which is not ack, retry, drop or dead-letter", VerdictHeader, v)
			return o
		}
		o.Verdict = asked
		if asked != verdict.Ack {
			o.Reason += fmt.Sprintf(" (%s: %s)", VerdictHeader, v)
		}
		return o
	}
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		o.Verdict = verdict.Retry
	case code >= 400 && code < 500 && !t.retryClient4:
		o.Verdict = verdict.DeadLetter
	default:
		o.Verdict = verdict.Retry
	}
	return o
}

// TopicTarget publishes each event to a topic on a backend. A stored
// message acks; a failure to store retries.
type TopicTarget struct {
	Topic *adapters.Topic
}

func (t *TopicTarget) Deliver(ctx context.Context, e *event.Event) Outcome {
	msg, err := adapters.EncodeEvent(withTraceContext(ctx, e))
	if err != nil {
		return Outcome{Verdict: verdict.DeadLetter, Reason: err.Error()}
	}
	if err := t.Topic.Publish(ctx, msg); err != nil {
		return Outcome{Verdict: verdict.Retry, Reason: "publishing to the topic: " + err.Error()}
	}
	return Outcome{Verdict: verdict.Ack}
}

// pluginTarget hands each event to a handler plugin. The plugin's verdict
// decides; a delivery that did not complete (the plugin crashed, hung or is
// restarting) is retried. Reply events go back into ingress on the route's
// bus before the event is acked, so a chain of handlers loses nothing.
type PluginTarget struct {
	Host *plugins.Host
	Name string
	// Reply stores the plugin's reply events on the route's bus; an error
	// retries the delivery.
	Reply func(ctx context.Context, replies []event.Event) error
}

func (t *PluginTarget) Deliver(ctx context.Context, e *event.Event) Outcome {
	res, err := t.Host.Deliver(ctx, t.Name, withTraceContext(ctx, e))
	if err != nil {
		return Outcome{Verdict: verdict.Retry, Reason: err.Error()}
	}
	o := Outcome{Verdict: res.Verdict, RetryAfter: res.RetryAfter, Reason: res.Reason}
	if o.Reason == "" && o.Verdict != verdict.Ack {
		o.Reason = "plugin " + t.Name + " answered " + res.Verdict.String()
	}
	if len(res.Replies) > 0 && o.Verdict == verdict.Ack {
		if err := t.Reply(ctx, res.Replies); err != nil {
			return Outcome{Verdict: verdict.Retry, Reason: "storing the plugin's replies: " + err.Error()}
		}
	}
	return o
}

// withTraceContext is e carrying the attempt's trace context in its
// traceparent extension: a copy, since e is the route's event and later
// attempts must start from the trace it was stored with. Without a span in
// ctx it is e.
func withTraceContext(ctx context.Context, e *event.Event) *event.Event {
	if !tracing.InSpan(ctx) {
		return e
	}
	c := e.Clone()
	tracing.ToEvent(ctx, &c)
	return &c
}

// plainAck reports whether an answer is a 2xx with no Eventbus-Verdict:
// an ack, whatever its body says.
func plainAck(code int, verdictValue string) bool {
	return verdictValue == "" && code >= 200 && code < 300
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// newTargetClient is the net/http client of one HTTP target: keep-alive
// connections for as many deliveries as the route has in flight, HTTP/2
// where a TLS target offers it.
func newTargetClient(r *router.Route) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(r.Delivery.MaxInflight, 1)
	tr.MaxIdleConns = tr.MaxIdleConnsPerHost
	return &http.Client{Transport: tr}
}
