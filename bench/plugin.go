package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/eventbus-go/eventbus/plugins"
	"github.com/eventbus-go/eventbus/plugins/proto"
	"github.com/eventbus-go/eventbus/sdk/plugin"
	"github.com/eventbus-go/eventbus/verdict"
)

// The plugin scenario: deliver one CloudEvent (the match scenario's) to a
// handler plugin that acks it, and wait for the verdict. eventbus is the plugin host
// (plugins.Host.Deliver) with a no-op handler written with sdk/plugin; the
// peer is a raw go-plugin gRPC stream carrying the same JSON bytes, one
// message per event, to a server that answers each at once without
// decoding it — the floor of what go-plugin's transport costs.
//
// Both plugins are this program, started by go-plugin with
// benchPluginEnv set (go-plugin reads the child's first line of stdout as
// its handshake, so the harness's serve- children cannot be used). The
// host side runs in the harness process, with the load; the PID charged
// is the plugin process's.
func init() {
	if mode := os.Getenv(benchPluginEnv); mode != "" {
		if err := servePlugin(mode, os.Getenv(benchProfileEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "bench plugin:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	register(Scenario{
		Name:    "plugin",
		About:   "deliver one CloudEvent (~150-byte JSON data) to a no-op go-plugin handler and wait for its verdict, 256 in flight",
		Workers: 256,
		Contenders: []Contender{
			{Name: "eventbus", Start: startPluginHost},
			{Name: "raw-stream", Start: startRawStream},
		},
	})
}

// benchPluginEnv makes this program a plugin ("noop" or "raw");
// benchProfileEnv names the file it writes a CPU profile to.
const (
	benchPluginEnv  = "EVENTBUS_BENCH_PLUGIN"
	benchProfileEnv = "EVENTBUS_BENCH_CPUPROFILE"
)

func servePlugin(mode, cpuProfile string) error {
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	switch mode {
	case "noop":
		plugin.Serve(plugin.HandlerFunc(func(context.Context, event.Event) (plugin.Result, error) {
			return plugin.Ack(), nil
		}), plugin.Options{Name: "bench-noop"})
	case "raw":
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: proto.Handshake,
			Plugins:         proto.PluginSet(rawServer{}),
			GRPCServer:      goplugin.DefaultGRPCServer,
		})
	default:
		return fmt.Errorf("%s=%q: want noop or raw", benchPluginEnv, mode)
	}
	return nil
}

// pluginEnv is the environment that makes this program the plugin mode.
func pluginEnv(mode string, opts StartOptions) map[string]string {
	env := map[string]string{benchPluginEnv: mode}
	if opts.CPUProfile != "" {
		env[benchProfileEnv] = opts.CPUProfile
	}
	return env
}

func startPluginHost(ctx context.Context, opts StartOptions) (*Instance, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := plugins.NewHost(ctx, []plugins.Config{{Name: "noop", Cmd: exe, Env: pluginEnv("noop", opts)}}, log)
	if err != nil {
		return nil, err
	}
	pid, err := childPID(exe)
	if err != nil {
		_ = h.Shutdown(context.Background())
		return nil, err
	}
	e := matchEvent()
	return &Instance{
		PID: pid,
		Op: func(ctx context.Context) error {
			res, err := h.Deliver(ctx, "noop", e)
			if err == nil && res.Verdict != verdict.Ack {
				err = fmt.Errorf("verdict %s, want ack", res.Verdict)
			}
			return err
		},
		Stop: func() error { return h.Shutdown(context.Background()) },
	}, nil
}

// childPID finds the newest child of this process running exe: the
// plugin just started (the host does not expose its processes).
func childPID(exe string) (int, error) {
	out, err := exec.Command("pgrep", "-n", "-P", fmt.Sprint(os.Getpid()), "-f", exe).Output()
	if err != nil {
		return 0, fmt.Errorf("finding the plugin process: %w", err)
	}
	var pid int
	_, err = fmt.Sscan(string(out), &pid)
	return pid, err
}

// rawServer answers every delivery with an ack as soon as it arrives.
type rawServer struct {
	proto.UnimplementedHandlerServer
}

func (rawServer) Describe(context.Context, *proto.DescribeRequest) (*proto.DescribeResponse, error) {
	return &proto.DescribeResponse{Name: "bench-raw"}, nil
}

func (rawServer) Deliver(stream proto.Handler_DeliverServer) error {
	for {
		b, err := stream.Recv()
		if err != nil {
			return nil
		}
		vb := &proto.VerdictBatch{}
		for _, d := range b.GetDeliveries() {
			vb.Verdicts = append(vb.Verdicts, &proto.Verdict{Id: d.GetId()})
		}
		if err := stream.Send(vb); err != nil {
			return err
		}
	}
}

// rawClient is the least a host needs to share one stream among many
// callers: a lock around Send and a map from id to the waiting caller.
type rawClient struct {
	sendMu sync.Mutex
	stream proto.Handler_DeliverClient
	mu     sync.Mutex
	seq    uint64
	wait   map[uint64]chan struct{}
}

func startRawStream(ctx context.Context, opts StartOptions) (*Instance, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = os.Environ()
	for k, v := range pluginEnv("raw", opts) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  proto.Handshake,
		Plugins:          proto.PluginSet(nil),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           hclog.NewNullLogger(),
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, err
	}
	raw, err := rpc.Dispense(proto.PluginName)
	if err != nil {
		client.Kill()
		return nil, err
	}
	streamCtx, cancel := context.WithCancel(context.Background())
	stream, err := raw.(proto.HandlerClient).Deliver(streamCtx)
	if err != nil {
		cancel()
		client.Kill()
		return nil, err
	}
	c := &rawClient{stream: stream, wait: map[uint64]chan struct{}{}}
	received := make(chan struct{})
	go func() {
		defer close(received)
		for {
			vb, err := stream.Recv()
			if err != nil {
				return
			}
			c.mu.Lock()
			for _, v := range vb.GetVerdicts() {
				if ch, ok := c.wait[v.GetId()]; ok {
					delete(c.wait, v.GetId())
					close(ch)
				}
			}
			c.mu.Unlock()
		}
	}()
	body, err := matchEvent().MarshalJSON()
	if err != nil {
		cancel()
		client.Kill()
		return nil, err
	}
	return &Instance{
		PID: cmd.Process.Pid,
		Op: func(ctx context.Context) error {
			done := make(chan struct{})
			c.mu.Lock()
			c.seq++
			id := c.seq
			c.wait[id] = done
			c.mu.Unlock()
			c.sendMu.Lock()
			err := c.stream.Send(&proto.DeliveryBatch{Deliveries: []*proto.Delivery{{Id: id, Event: body, TimeoutMs: 10_000}}})
			c.sendMu.Unlock()
			if err != nil {
				return err
			}
			select {
			case <-done:
				return nil
			case <-received:
				return errors.New("the raw stream ended")
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		Stop: func() error {
			cancel()
			client.Kill()
			<-received
			return nil
		},
	}, nil
}
