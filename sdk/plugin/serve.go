package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/eventbus-go/eventbus/plugins/proto"
	"github.com/eventbus-go/eventbus/verdict"
)

// DefaultMaxConcurrency bounds the deliveries handled at once when
// Options.MaxConcurrency is zero.
const DefaultMaxConcurrency = 1024

// maxRecvBytes bounds one message from the host: a batch of deliveries.
const maxRecvBytes = 64 << 20

// maxBatch and maxBatchBytes bound the verdicts packed into one message to
// the host.
const (
	maxBatch      = 256
	maxBatchBytes = 1 << 20
)

// Options describe the plugin. Zero values mean the defaults.
type Options struct {
	// Name and Version are shown in the bus's log; Name defaults to the
	// program's file name.
	Name, Version string
	// EventTypes lists the CloudEvents types the plugin handles, for the
	// bus to show; empty means unspecified.
	EventTypes []string
	// MaxConcurrency bounds the handler calls running at once;
	// zero means DefaultMaxConcurrency. Deliveries beyond it wait.
	MaxConcurrency int
	// Logger receives the plugin's own messages (a handler panic, an
	// invalid reply); nil means Logger().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = filepath.Base(os.Args[0])
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	if o.Logger == nil {
		o.Logger = Logger()
	}
	return o
}

// Serve runs h as an eventbus plugin until the bus stops it. Call it from
// main; started by hand rather than by the bus, it says so and exits.
func Serve(h Handler, opts Options) {
	serve(NewServer(h, opts))
}

// ServeBatch is Serve for a BatchHandler.
func ServeBatch(h BatchHandler, opts Options) {
	serve(NewBatchServer(h, opts))
}

func serve(s proto.HandlerServer) {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: proto.Handshake,
		Plugins:         proto.PluginSet(s),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(maxRecvBytes))...)
		},
	})
}

// NewServer returns the gRPC service that Serve serves for h. Serve is all
// a plugin needs; this is for tests and for hosting the service yourself.
func NewServer(h Handler, opts Options) proto.HandlerServer {
	s := newServer(opts)
	s.dispatch = func(ctx context.Context, w *workers, ds []*proto.Delivery, out chan<- *proto.Verdict) {
		for len(ds) > 0 {
			// Deliveries of one message with the same timeout share one
			// deadline: one context and one timer, not one per event.
			n := 1
			for n < len(ds) && ds[n].GetTimeoutMs() == ds[0].GetTimeoutMs() {
				n++
			}
			f := s.newFlight(ctx, ds[:n], out)
			for i, d := range ds[:n] {
				if !w.run(func() { s.handleOne(ctx, h, f, i, d, out) }) {
					return
				}
			}
			ds = ds[n:]
		}
	}
	return s
}

// NewBatchServer is NewServer for a BatchHandler.
func NewBatchServer(h BatchHandler, opts Options) proto.HandlerServer {
	s := newServer(opts)
	s.dispatch = func(ctx context.Context, w *workers, ds []*proto.Delivery, out chan<- *proto.Verdict) {
		w.run(func() { s.handleBatch(ctx, h, ds, out) })
	}
	return s
}

type server struct {
	proto.UnimplementedHandlerServer
	opts Options
	log  *slog.Logger
	sem  chan struct{} // one token per worker: each runs one handler call at a time
	// dispatch starts handling the deliveries of one message from the
	// host on w; each verdict goes to out.
	dispatch func(ctx context.Context, w *workers, ds []*proto.Delivery, out chan<- *proto.Verdict)
}

func newServer(opts Options) *server {
	opts = opts.withDefaults()
	return &server{opts: opts, log: opts.Logger, sem: make(chan struct{}, opts.MaxConcurrency)}
}

// workers run the handler calls of one stream on goroutines that outlive
// a call, so that a call does not pay for a new goroutine and the growth
// of its stack. There are as many as calls have run at once, at most
// Options.MaxConcurrency over all streams; they end with the stream.
type workers struct {
	ctx  context.Context
	sem  chan struct{}
	jobs chan func() // unbuffered: a job goes only to an idle worker
}

// run hands job to an idle worker, or to a new one while there are fewer
// than the bound, or waits for one to be idle. It returns false if ctx
// ends first.
func (w *workers) run(job func()) bool {
	select {
	case w.jobs <- job:
		return true
	default:
	}
	select {
	case w.jobs <- job:
		return true
	case w.sem <- struct{}{}:
		go w.work(job)
		return true
	case <-w.ctx.Done():
		return false
	}
}

func (w *workers) work(job func()) {
	defer func() { <-w.sem }()
	for {
		job()
		select {
		case job = <-w.jobs:
		case <-w.ctx.Done():
			return
		}
	}
}

func (s *server) Describe(context.Context, *proto.DescribeRequest) (*proto.DescribeResponse, error) {
	return &proto.DescribeResponse{Name: s.opts.Name, Version: s.opts.Version, EventTypes: s.opts.EventTypes}, nil
}

// Deliver serves the host's delivery stream: it starts a handler for each
// delivery as it arrives and sends verdicts back as they are ready. It
// returns when the host closes the stream; handlers still running then
// see their ctx end.
func (s *server) Deliver(stream proto.Handler_DeliverServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	out := make(chan *proto.Verdict, maxBatch)
	sendErr := make(chan error, 1)
	go func() { sendErr <- s.sendVerdicts(ctx, stream, out) }()
	w := &workers{ctx: ctx, sem: s.sem, jobs: make(chan func())}
	for {
		batch, err := stream.Recv()
		if err != nil {
			cancel()
			<-sendErr
			return nil // the host closed the stream, or went away
		}
		s.dispatch(ctx, w, batch.GetDeliveries(), out)
		select {
		case err := <-sendErr:
			return err
		default:
		}
	}
}

// sendVerdicts packs the verdicts that are ready into messages to the host.
func (s *server) sendVerdicts(ctx context.Context, stream proto.Handler_DeliverServer, out <-chan *proto.Verdict) error {
	for {
		var v *proto.Verdict
		select {
		case v = <-out:
		case <-ctx.Done():
			return nil
		}
		// Let the handlers that are runnable now answer first: one message
		// for many verdicts costs both sides less than many.
		runtime.Gosched()
		batch := &proto.VerdictBatch{Verdicts: []*proto.Verdict{v}}
		size := verdictSize(v)
	drain:
		for len(batch.Verdicts) < maxBatch && size < maxBatchBytes {
			select {
			case v = <-out:
				batch.Verdicts = append(batch.Verdicts, v)
				size += verdictSize(v)
			default:
				break drain
			}
		}
		if err := stream.Send(batch); err != nil {
			return fmt.Errorf("sending verdicts to the host: %w", err)
		}
	}
}

func verdictSize(v *proto.Verdict) int {
	n := len(v.GetReason())
	for _, r := range v.GetReplies() {
		n += len(r)
	}
	return n
}

func timeoutOf(d *proto.Delivery) time.Duration {
	return time.Duration(d.GetTimeoutMs()) * time.Millisecond
}

// flight is the deliveries of one message from the host that share a
// timeout, and so a deadline, counted from their arrival.
type flight struct {
	ctx      context.Context
	cancel   context.CancelFunc
	stop     func() bool
	answered []atomic.Bool
	left     atomic.Int32 // deliveries not yet done with
}

// newFlight starts the deadline of ds: when it passes, each delivery not
// answered yet is answered retry.
func (s *server) newFlight(ctx context.Context, ds []*proto.Delivery, out chan<- *proto.Verdict) *flight {
	timeout := timeoutOf(ds[0])
	f := &flight{answered: make([]atomic.Bool, len(ds))}
	f.left.Store(int32(len(ds)))
	f.ctx, f.cancel = context.WithTimeout(ctx, timeout)
	f.stop = context.AfterFunc(f.ctx, func() {
		if ctx.Err() != nil {
			return
		}
		for i, d := range ds {
			if f.answered[i].CompareAndSwap(false, true) {
				send(ctx, out, &proto.Verdict{Id: d.GetId(), Kind: proto.Kind_KIND_RETRY, Reason: fmt.Sprintf("the handler did not return within its deadline (%s)", timeout)})
			}
		}
	})
	return f
}

// done counts delivery i as answered; the last one stops the deadline.
func (f *flight) done() {
	if f.left.Add(-1) == 0 {
		f.stop()
		f.cancel()
	}
}

// handleOne runs the handler for delivery i of f and sends exactly one
// verdict: the handler's, or retry if the deadline passes first.
func (s *server) handleOne(ctx context.Context, h Handler, f *flight, i int, d *proto.Delivery, out chan<- *proto.Verdict) {
	defer f.done()
	if f.ctx.Err() != nil {
		return // its deadline passed while it waited for a turn: answered retry
	}
	var e event.Event
	if err := e.UnmarshalJSON(d.GetEvent()); err != nil {
		if f.answered[i].CompareAndSwap(false, true) {
			send(ctx, out, &proto.Verdict{Id: d.GetId(), Kind: proto.Kind_KIND_DEAD_LETTER, Reason: "the plugin could not read the event: " + err.Error()})
		}
		return
	}
	res, err := s.call(f.ctx, e, h.Handle)
	if f.answered[i].CompareAndSwap(false, true) {
		send(ctx, out, s.verdict(d.GetId(), res, err))
	}
}

// handleBatch runs the batch handler for the deliveries of one message.
func (s *server) handleBatch(ctx context.Context, h BatchHandler, ds []*proto.Delivery, out chan<- *proto.Verdict) {
	events := make([]event.Event, 0, len(ds))
	ids := make([]uint64, 0, len(ds))
	timeout := time.Duration(0)
	for _, d := range ds {
		var e event.Event
		if err := e.UnmarshalJSON(d.GetEvent()); err != nil {
			send(ctx, out, &proto.Verdict{Id: d.GetId(), Kind: proto.Kind_KIND_DEAD_LETTER, Reason: "the plugin could not read the event: " + err.Error()})
			continue
		}
		if t := timeoutOf(d); timeout == 0 || t < timeout {
			timeout = t
		}
		events = append(events, e)
		ids = append(ids, d.GetId())
	}
	if len(events) == 0 {
		return
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var answered atomic.Bool
	stop := context.AfterFunc(hctx, func() {
		if ctx.Err() == nil && answered.CompareAndSwap(false, true) {
			for _, id := range ids {
				send(ctx, out, &proto.Verdict{Id: id, Kind: proto.Kind_KIND_RETRY, Reason: fmt.Sprintf("the batch handler did not return within its deadline (%s)", timeout)})
			}
		}
	})
	defer stop()
	var results []Result
	_, err := s.call(hctx, event.Event{}, func(ctx context.Context, _ event.Event) (Result, error) {
		var err error
		results, err = h.HandleBatch(ctx, events)
		return Result{}, err
	})
	if err == nil && len(results) != len(events) {
		err = fmt.Errorf("HandleBatch returned %d results for %d events; it must return one per event", len(results), len(events))
		s.log.Error("batch handler bug", "err", err)
	}
	if !answered.CompareAndSwap(false, true) {
		return
	}
	for i, id := range ids {
		var r Result
		if err == nil {
			r = results[i]
		}
		send(ctx, out, s.verdict(id, r, err))
	}
}

// call runs the handler, turning a panic into an error so one bad event
// does not take the process, and every delivery in flight, down.
func (s *server) call(ctx context.Context, e event.Event, handle func(context.Context, event.Event) (Result, error)) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panicked; the event will be retried", "event_id", e.ID(), "panic", p, "stack", string(debug.Stack()))
			res, err = Result{}, fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return handle(ctx, e)
}

// verdict encodes a handler's answer. A reply that is not a valid
// CloudEvent makes it a dead letter: retrying would repeat the bug.
func (s *server) verdict(id uint64, r Result, err error) *proto.Verdict {
	if err != nil {
		return &proto.Verdict{Id: id, Kind: proto.Kind_KIND_RETRY, Reason: err.Error()}
	}
	v := &proto.Verdict{Id: id, Reason: r.Reason, RetryAfterMs: r.RetryAfter.Milliseconds()}
	kind, ok := proto.KindOf(r.Verdict)
	if !ok {
		return &proto.Verdict{Id: id, Kind: proto.Kind_KIND_RETRY, Reason: fmt.Sprintf("the handler returned an unknown verdict %d", r.Verdict)}
	}
	v.Kind = kind
	if len(r.Replies) > 0 && r.Verdict != verdict.Ack {
		return s.badReply(id, fmt.Errorf("a %s result carries %d replies; only Ack may reply", r.Verdict, len(r.Replies)))
	}
	for i := range r.Replies {
		e := &r.Replies[i]
		if e.ID() == "" {
			e.SetID(uuid.NewString())
		}
		if err := e.Validate(); err != nil {
			return s.badReply(id, fmt.Errorf("reply %d is not a valid CloudEvent: %w", i, err))
		}
		b, err := e.MarshalJSON()
		if err != nil {
			return s.badReply(id, fmt.Errorf("reply %d cannot be encoded: %w", i, err))
		}
		v.Replies = append(v.Replies, b)
	}
	return v
}

func (s *server) badReply(id uint64, err error) *proto.Verdict {
	s.log.Error("handler bug: the event goes to the dead-letter channel", "err", err)
	return &proto.Verdict{Id: id, Kind: proto.Kind_KIND_DEAD_LETTER, Reason: "handler bug: " + err.Error()}
}

func send(ctx context.Context, out chan<- *proto.Verdict, v *proto.Verdict) {
	select {
	case out <- v:
	case <-ctx.Done():
	}
}
