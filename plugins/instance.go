package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

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
)

// instance is one running plugin process and its delivery stream. It lives
// until fail is called (the process crashed, hung, or the host stops);
// then every delivery in flight to it returns an error and the supervisor
// replaces it with a new process.
type instance struct {
	plugin string
	index  int
	log    *slog.Logger
	proc   process
	health grpc_health_v1.HealthClient
	desc   *proto.DescribeResponse

	queue        chan *proto.Delivery
	cancelStream context.CancelFunc
	loops        sync.WaitGroup // the stream's sender and receiver

	mu    sync.Mutex
	seq   uint64
	calls map[uint64]chan callResult // deliveries in flight, by id
	err   error                      // why the instance failed; nil while it lives
	dead  chan struct{}              // closed by fail
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
func startInstance(ctx context.Context, launch launcher, cfg Config, index int, log *slog.Logger) (*instance, error) {
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
	in := &instance{plugin: cfg.Name, index: index, log: log, proc: proc}
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
	in.queue = make(chan *proto.Delivery, queueSize)
	in.cancelStream = cancelStream
	in.calls = map[uint64]chan callResult{}
	in.dead = make(chan struct{})
	in.loops.Add(2)
	go in.send(stream)
	go in.receive(stream)
	log.Info("plugin instance started", "name", in.desc.GetName(), "version", in.desc.GetVersion(), "event_types", in.desc.GetEventTypes())
	return in, nil
}

// deliver sends one event (JSON) and waits for its verdict. No verdict
// within timeout means the process is hung: the instance fails, and with
// it every delivery in flight to it.
func (in *instance) deliver(ctx context.Context, body []byte, timeout, handlerTimeout time.Duration) (*proto.Verdict, error) {
	done := make(chan callResult, 1)
	in.mu.Lock()
	if in.err != nil {
		err := in.err
		in.mu.Unlock()
		return nil, in.lost(err)
	}
	in.seq++
	id := in.seq
	in.calls[id] = done
	in.mu.Unlock()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	d := &proto.Delivery{Id: id, Event: body, TimeoutMs: handlerTimeout.Milliseconds()}
	select {
	case in.queue <- d:
	case <-in.dead: // fail has answered done
	case <-timer.C:
		return nil, in.hung(timeout)
	case <-ctx.Done():
		in.forget(id)
		return nil, ctx.Err()
	}
	select {
	case r := <-done:
		return r.verdict, r.err
	case <-timer.C:
		return nil, in.hung(timeout)
	case <-ctx.Done():
		in.forget(id)
		return nil, ctx.Err()
	}
}

func (in *instance) hung(timeout time.Duration) error {
	err := fmt.Errorf("no answer to a delivery within the plugin's timeout (%s): the process is taken as hung", timeout)
	in.fail(err)
	return in.lost(err)
}

// lost is the error of a delivery that did not complete because the
// instance failed.
func (in *instance) lost(cause error) error {
	return fmt.Errorf("plugin %q instance %d: the delivery did not complete; deliver the event again: %w", in.plugin, in.index, cause)
}

func (in *instance) forget(id uint64) {
	in.mu.Lock()
	delete(in.calls, id)
	in.mu.Unlock()
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
	in.mu.Unlock()
	close(in.dead)
	in.cancelStream()
	err := in.lost(cause)
	for _, done := range calls {
		done <- callResult{err: err}
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

// send packs what is queued into stream messages until the instance fails.
func (in *instance) send(stream proto.Handler_DeliverClient) {
	defer in.loops.Done()
	for {
		var d *proto.Delivery
		select {
		case d = <-in.queue:
		case <-in.dead:
			return
		}
		batch := &proto.DeliveryBatch{Deliveries: []*proto.Delivery{d}}
		size := len(d.Event)
	drain:
		for len(batch.Deliveries) < maxBatch && size < maxBatchBytes {
			select {
			case d = <-in.queue:
				batch.Deliveries = append(batch.Deliveries, d)
				size += len(d.Event)
			default:
				break drain
			}
		}
		if err := stream.Send(batch); err != nil {
			in.fail(fmt.Errorf("sending to the plugin process: %w", err))
			return
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
			if done, ok := in.calls[v.GetId()]; ok {
				delete(in.calls, v.GetId())
				done <- callResult{verdict: v} // buffered: never blocks
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
