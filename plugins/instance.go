package plugins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/eventbus-go/eventbus/plugins/proto"
)

const (
	// startTimeout bounds a plugin process's start and handshake.
	startTimeout = 10 * time.Second
	// healthInterval is how often an instance is health-checked, so that
	// one that hangs while idle is found before deliveries wait on it.
	healthInterval = 5 * time.Second
	// maxBatch and maxBatchBytes bound the deliveries packed into one
	// stream message (a larger event still goes, alone).
	maxBatch      = 256
	maxBatchBytes = 1 << 20
	// queueSize bounds the deliveries waiting for the stream.
	queueSize = 4096
	// maxPooledBody bounds the encoded events kept for reuse.
	maxPooledBody = 64 << 10
)

// instance is one running plugin process and its delivery stream. It lives
// until fail is called (the process crashed, hung, or the host stops);
// then every delivery in flight to it returns an error and the supervisor
// replaces it with a new process.
//
// A delivery costs no timer and no goroutine of its own: it is a call in
// the calls map and at the tail of a list ordered by deadline (every call
// has the same timeout, so registration order is deadline order). One
// sweeper per instance sleeps until the oldest call's deadline; a call
// still unanswered then means the process is hung.
type instance struct {
	plugin         string
	index          int
	log            *slog.Logger
	proc           process
	health         grpc_health_v1.HealthClient
	desc           *proto.DescribeResponse
	timeout        time.Duration // the host's wait for a verdict
	handlerTimeout time.Duration // what the plugin is told

	cancelStream context.CancelFunc
	loops        sync.WaitGroup // the stream's sender and receiver, the sweeper
	wakeSender   chan struct{}  // a token: pending is no longer empty

	mu      sync.Mutex
	seq     uint64
	calls   map[uint64]*call // deliveries in flight, by id
	oldest  *call            // of calls, in deadline order: the sweeper's
	newest  *call            // list
	pending []*proto.Delivery
	space   chan struct{} // closed when the sender takes pending; nil if nobody waits
	err     error         // why the instance failed; nil while it lives
	dead    chan struct{} // closed by fail
}

// call is one delivery in flight. Calls that complete with a verdict are
// reused: the verdict proves the plugin received the delivery, so gRPC is
// done with the encoded event.
type call struct {
	body       bytes.Buffer // the event, JSON; Delivery.Event points into it
	delivery   proto.Delivery
	done       chan callResult // buffered: the receiver never blocks
	deadline   time.Time
	prev, next *call
}

var calls = sync.Pool{New: func() any { return &call{done: make(chan callResult, 1)} }}

// newCall encodes e into a call, once, with the CloudEvents SDK's own
// JSON writer.
func newCall(e *event.Event) (*call, error) {
	c := calls.Get().(*call)
	c.body.Reset()
	if err := event.WriteJson(e, &c.body); err != nil {
		calls.Put(c)
		return nil, err
	}
	return c, nil
}

func releaseCall(c *call) {
	if c.body.Cap() > maxPooledBody {
		return
	}
	c.delivery.Event = nil
	c.prev, c.next = nil, nil
	calls.Put(c)
}

type callResult struct {
	verdict *proto.Verdict
	err     error
}

// process is what an instance runs on: a child process, or in the
// package's tests a server in the same process.
type process interface {
	// kill asks the process to exit and waits until it has.
	kill()
	// forceKill ends it at once (SIGKILL): a hung process would not
	// answer kill.
	forceKill()
}

// launcher starts one process of a plugin and connects to it.
type launcher func(ctx context.Context, cfg Config, index int, log *slog.Logger) (goplugin.ClientProtocol, process, error)

// childProcess is a plugin process started by go-plugin.
type childProcess struct {
	client *goplugin.Client
	cmd    *exec.Cmd
}

func (c *childProcess) kill() { c.client.Kill() }

// forceKill sends SIGKILL first, since go-plugin's Kill would wait on a
// hung process, then lets go-plugin clean up.
func (c *childProcess) forceKill() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
	c.client.Kill()
}

// launchChild runs cfg.Cmd and completes the go-plugin handshake: magic
// cookie, protocol version, gRPC, AutoMTLS.
func launchChild(_ context.Context, cfg Config, index int, log *slog.Logger) (goplugin.ClientProtocol, process, error) {
	cmd := exec.Command(cfg.Cmd, cfg.Args...)
	cmd.Env = os.Environ()
	for _, k := range slices.Sorted(maps.Keys(cfg.Env)) {
		cmd.Env = append(cmd.Env, k+"="+cfg.Env[k])
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  proto.Handshake,
		Plugins:          proto.PluginSet(nil),
		Cmd:              cmd,
		SkipHostEnv:      true, // cmd.Env already holds it, with cfg.Env winning
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     startTimeout,
		Logger:           newHCLogger(log),
	})
	proc := &childProcess{client: client, cmd: cmd}
	rpc, err := client.Client()
	if err != nil {
		proc.forceKill()
		if strings.Contains(err.Error(), "incompatible API version") {
			return nil, nil, fmt.Errorf("handshake failed: this bus speaks eventbus plugin protocol version %d; rebuild the plugin against the matching sdk/plugin: %w", proto.ProtocolVersion, err)
		}
		return nil, nil, fmt.Errorf("could not start it (check cmd and args, and that the program calls plugin.Serve): %w", err)
	}
	log.Debug("plugin process started", "pid", cmd.Process.Pid)
	return rpc, proc, nil
}

// startInstance launches one process of the plugin, asks it to Describe
// itself and opens the delivery stream.
func startInstance(ctx context.Context, launch launcher, cfg Config, index int, timeout, handlerTimeout time.Duration, log *slog.Logger) (*instance, error) {
	log = log.With("instance", index)
	rpc, proc, err := launch(ctx, cfg, index, log)
	if err != nil {
		return nil, fmt.Errorf("plugin %q (%s): %w", cfg.Name, cfg.Cmd, err)
	}
	fail := func(what string, err error) (*instance, error) {
		proc.forceKill()
		return nil, fmt.Errorf("plugin %q (%s): %s: %w", cfg.Name, cfg.Cmd, what, err)
	}
	raw, err := rpc.Dispense(proto.PluginName)
	if err != nil {
		return fail("it does not serve the eventbus handler", err)
	}
	hc := raw.(proto.HandlerClient)
	in := &instance{plugin: cfg.Name, index: index, log: log, proc: proc, timeout: timeout, handlerTimeout: handlerTimeout}
	in.health = grpc_health_v1.NewHealthClient(rpc.(*goplugin.GRPCClient).Conn)
	dctx, cancel := context.WithTimeout(ctx, startTimeout)
	in.desc, err = hc.Describe(dctx, &proto.DescribeRequest{})
	cancel()
	if err != nil {
		return fail("Describe failed", err)
	}
	streamCtx, cancelStream := context.WithCancel(context.Background())
	stream, err := hc.Deliver(streamCtx)
	if err != nil {
		cancelStream()
		return fail("opening the delivery stream failed", err)
	}
	in.cancelStream = cancelStream
	in.wakeSender = make(chan struct{}, 1)
	in.calls = map[uint64]*call{}
	in.dead = make(chan struct{})
	in.loops.Add(3)
	go in.send(stream)
	go in.receive(stream)
	go in.sweep()
	log.Info("plugin instance started", "name", in.desc.GetName(), "version", in.desc.GetVersion(), "event_types", in.desc.GetEventTypes())
	return in, nil
}

// deliver sends c and waits for its verdict. c is the caller's again
// only when deliver returns a verdict.
func (in *instance) deliver(ctx context.Context, c *call) (*proto.Verdict, error) {
	in.mu.Lock()
	for in.err == nil && len(in.pending) >= queueSize {
		if in.space == nil {
			in.space = make(chan struct{})
		}
		space := in.space
		in.mu.Unlock()
		select {
		case <-space:
		case <-in.dead:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		in.mu.Lock()
	}
	if in.err != nil {
		err := in.err
		in.mu.Unlock()
		return nil, in.lost(err)
	}
	in.seq++
	id := in.seq
	c.deadline = time.Now().Add(in.timeout)
	c.delivery.Id, c.delivery.Event, c.delivery.TimeoutMs = id, c.body.Bytes(), in.handlerTimeout.Milliseconds()
	in.calls[id] = c
	c.prev, c.next = in.newest, nil
	if in.newest != nil {
		in.newest.next = c
	} else {
		in.oldest = c
	}
	in.newest = c
	in.pending = append(in.pending, &c.delivery)
	wake := len(in.pending) == 1
	in.mu.Unlock()
	if wake {
		select {
		case in.wakeSender <- struct{}{}:
		default: // the sender is awake already
		}
	}

	select {
	case r := <-c.done:
		return r.verdict, r.err
	case <-ctx.Done():
		in.mu.Lock()
		if in.calls[id] == c {
			in.remove(id, c)
		}
		in.mu.Unlock()
		return nil, ctx.Err()
	}
}

// remove takes a call out of calls and the deadline list; in.mu is held.
func (in *instance) remove(id uint64, c *call) {
	delete(in.calls, id)
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		in.oldest = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		in.newest = c.prev
	}
	c.prev, c.next = nil, nil
}

// sweep fails the instance as hung when its oldest delivery passes its
// deadline unanswered. With nothing in flight it sleeps for a whole
// timeout: any delivery made meanwhile has a later deadline than its wake.
func (in *instance) sweep() {
	defer in.loops.Done()
	t := time.NewTimer(in.timeout)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-in.dead:
			return
		}
		in.mu.Lock()
		wait := in.timeout
		if in.oldest != nil {
			wait = time.Until(in.oldest.deadline)
		}
		in.mu.Unlock()
		if wait <= 0 {
			in.fail(fmt.Errorf("no answer to a delivery within the plugin's timeout (%s): the process is taken as hung", in.timeout))
			return
		}
		t.Reset(wait)
	}
}

// lost is the error of a delivery that did not complete because the
// instance failed.
func (in *instance) lost(cause error) error {
	return fmt.Errorf("plugin %q instance %d: the delivery did not complete; deliver the event again: %w", in.plugin, in.index, cause)
}

// fail marks the instance failed for cause, stops its stream and answers
// every delivery in flight with an error. Only the first call counts.
func (in *instance) fail(cause error) {
	in.mu.Lock()
	if in.err != nil {
		in.mu.Unlock()
		return
	}
	in.err = cause
	calls := in.calls
	in.calls = nil
	in.oldest, in.newest, in.pending = nil, nil, nil
	in.mu.Unlock()
	close(in.dead)
	in.cancelStream()
	err := in.lost(cause)
	for _, c := range calls {
		c.done <- callResult{err: err}
	}
	if len(calls) > 0 {
		in.log.Warn("deliveries in flight to a failed plugin instance returned errors for redelivery", "deliveries", len(calls), "err", cause)
	}
}

func (in *instance) failed() bool {
	select {
	case <-in.dead:
		return true
	default:
		return false
	}
}

// send packs what is pending into stream messages until the instance
// fails.
func (in *instance) send(stream proto.Handler_DeliverClient) {
	defer in.loops.Done()
	for {
		select {
		case <-in.wakeSender:
		case <-in.dead:
			return
		}
		// Let the callers that are runnable now add their deliveries
		// first: one message for many costs both sides less than many.
		runtime.Gosched()
		for {
			in.mu.Lock()
			n, size := 0, 0
			for n < len(in.pending) && n < maxBatch && size < maxBatchBytes {
				size += len(in.pending[n].Event)
				n++
			}
			if n == 0 {
				in.mu.Unlock()
				break
			}
			batch := &proto.DeliveryBatch{Deliveries: slices.Clone(in.pending[:n])}
			rest := copy(in.pending, in.pending[n:])
			clear(in.pending[rest:])
			in.pending = in.pending[:rest]
			if in.space != nil {
				close(in.space)
				in.space = nil
			}
			in.mu.Unlock()
			if err := stream.Send(batch); err != nil {
				in.fail(fmt.Errorf("sending to the plugin process: %w", err))
				return
			}
		}
	}
}

// receive hands each verdict to the delivery waiting for it. A stream that
// breaks means the process crashed or was killed.
func (in *instance) receive(stream proto.Handler_DeliverClient) {
	defer in.loops.Done()
	for {
		vb, err := stream.Recv()
		if err != nil {
			in.fail(fmt.Errorf("the plugin process stopped answering: %w", err))
			return
		}
		in.mu.Lock()
		for _, v := range vb.GetVerdicts() {
			if c, ok := in.calls[v.GetId()]; ok {
				in.remove(v.GetId(), c)
				c.done <- callResult{verdict: v}
			}
		}
		in.mu.Unlock()
	}
}

// check asks the process's gRPC health service whether it is serving.
func (in *instance) check(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := in.health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: goplugin.GRPCServiceName})
	if err != nil {
		return err
	}
	if resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		return fmt.Errorf("health status %s", resp.GetStatus())
	}
	return nil
}

// stop ends the process: gracefully (go-plugin asks it to exit) until ctx
// ends, then by SIGKILL. It returns once the process and the stream loops
// are gone.
func (in *instance) stop(ctx context.Context) error {
	in.fail(errors.New("the plugin host is shutting down"))
	exited := make(chan struct{})
	go func() {
		in.proc.kill()
		close(exited)
	}()
	var err error
	select {
	case <-exited:
	case <-ctx.Done():
		err = fmt.Errorf("plugin %q instance %d did not exit in time; killed it", in.plugin, in.index)
		in.proc.forceKill()
		<-exited
	}
	in.loops.Wait()
	return err
}

// forceKill ends a failed instance's process at once.
func (in *instance) forceKill() {
	in.proc.forceKill()
	in.loops.Wait()
}
