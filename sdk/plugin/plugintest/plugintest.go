// Package plugintest runs a plugin handler in-process, behind the same gRPC
// service and go-plugin plumbing the bus talks to, so a handler's unit
// tests exercise what production does: the event's JSON round trip, the
// verdict, the replies, the deadline.
//
//	func TestMailer(t *testing.T) {
//		p := plugintest.New(t, mailer{}, plugin.Options{})
//		res, err := p.Deliver(ctx, e)
//		// check res.Verdict, res.Replies
//	}
package plugintest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/eventbus-go/eventbus/plugins/proto"
	"github.com/eventbus-go/eventbus/sdk/plugin"
)

// DefaultTimeout is the deadline each delivery gives the handler unless
// Plugin.Timeout is set.
const DefaultTimeout = 10 * time.Second

// Plugin is a handler served in-process. Deliver may be called
// concurrently. It stops when the test ends.
type Plugin struct {
	// Timeout is the handler's deadline for each delivery.
	Timeout time.Duration

	client proto.HandlerClient
	stream proto.Handler_DeliverClient
	sendMu sync.Mutex

	mu      sync.Mutex
	seq     uint64
	waiting map[uint64]chan *proto.Verdict
	err     error // why the stream ended
}

// New serves h in-process for the length of the test.
func New(t testing.TB, h plugin.Handler, opts plugin.Options) *Plugin {
	return start(t, plugin.NewServer(h, opts))
}

// NewBatch is New for a BatchHandler. Each Deliver call is a batch of one;
// use DeliverBatch for more.
func NewBatch(t testing.TB, h plugin.BatchHandler, opts plugin.Options) *Plugin {
	return start(t, plugin.NewBatchServer(h, opts))
}

func start(t testing.TB, srv proto.HandlerServer) *Plugin {
	t.Helper()
	client, server := goplugin.TestPluginGRPCConn(t, false, proto.PluginSet(srv))
	raw, err := client.Dispense(proto.PluginName)
	if err != nil {
		t.Fatalf("plugintest: dispensing the handler: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Plugin{Timeout: DefaultTimeout, client: raw.(proto.HandlerClient), waiting: map[uint64]chan *proto.Verdict{}}
	p.stream, err = p.client.Deliver(ctx)
	if err != nil {
		cancel()
		t.Fatalf("plugintest: opening the delivery stream: %v", err)
	}
	received := make(chan struct{})
	go func() {
		defer close(received)
		p.receive()
	}()
	t.Cleanup(func() {
		cancel()
		<-received
		// Stop the server first: client.Close asks a live server to stop
		// itself, and go-plugin's GRPCServer.Stop must not run twice.
		server.Stop()
		_ = client.Close()
	})
	return p
}

func (p *Plugin) receive() {
	for {
		vb, err := p.stream.Recv()
		p.mu.Lock()
		if err != nil {
			p.err = err
			for id, ch := range p.waiting {
				close(ch)
				delete(p.waiting, id)
			}
			p.mu.Unlock()
			return
		}
		for _, v := range vb.GetVerdicts() {
			if ch, ok := p.waiting[v.GetId()]; ok {
				delete(p.waiting, v.GetId())
				ch <- v
			}
		}
		p.mu.Unlock()
	}
}

// Describe returns what the plugin says about itself.
func (p *Plugin) Describe(ctx context.Context) (name, version string, eventTypes []string, err error) {
	d, err := p.client.Describe(ctx, &proto.DescribeRequest{})
	return d.GetName(), d.GetVersion(), d.GetEventTypes(), err
}

// Deliver hands e to the handler and returns its result as the bus would
// read it. Replies come back decoded; the bus would also set their
// causationid and correlationid, which this does not.
func (p *Plugin) Deliver(ctx context.Context, e event.Event) (plugin.Result, error) {
	res, err := p.DeliverBatch(ctx, []event.Event{e})
	if err != nil {
		return plugin.Result{}, err
	}
	return res[0], nil
}

// DeliverBatch sends events in one message, as the host does when several
// are waiting, and returns their results in order.
func (p *Plugin) DeliverBatch(ctx context.Context, events []event.Event) ([]plugin.Result, error) {
	batch := &proto.DeliveryBatch{}
	chans := make([]chan *proto.Verdict, len(events))
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("plugintest: the stream has ended: %w", p.err)
	}
	for i := range events {
		body, err := events[i].MarshalJSON()
		if err != nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("plugintest: encoding event %d: %w", i, err)
		}
		p.seq++
		chans[i] = make(chan *proto.Verdict, 1)
		p.waiting[p.seq] = chans[i]
		batch.Deliveries = append(batch.Deliveries, &proto.Delivery{Id: p.seq, Event: body, TimeoutMs: p.Timeout.Milliseconds()})
	}
	p.mu.Unlock()
	p.sendMu.Lock()
	err := p.stream.Send(batch)
	p.sendMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("plugintest: sending: %w", err)
	}
	out := make([]plugin.Result, len(events))
	for i, ch := range chans {
		select {
		case v, ok := <-ch:
			if !ok {
				return nil, errors.New("plugintest: the stream ended before the handler answered")
			}
			r, err := resultOf(v)
			if err != nil {
				return nil, err
			}
			out[i] = r
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

func resultOf(v *proto.Verdict) (plugin.Result, error) {
	decided, ok := v.GetKind().Verdict()
	if !ok {
		return plugin.Result{}, fmt.Errorf("plugintest: the plugin answered an unknown verdict %d", v.GetKind())
	}
	r := plugin.Result{
		Verdict:    decided,
		RetryAfter: time.Duration(v.GetRetryAfterMs()) * time.Millisecond,
		Reason:     v.GetReason(),
	}
	for i, raw := range v.GetReplies() {
		var e event.Event
		if err := e.UnmarshalJSON(raw); err != nil {
			return r, fmt.Errorf("plugintest: reply %d is not a CloudEvent: %w", i, err)
		}
		r.Replies = append(r.Replies, e)
	}
	return r, nil
}
