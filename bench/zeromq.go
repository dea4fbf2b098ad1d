package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/go-zeromq/zmq4"

	"github.com/eventbus-go/eventbus/adapters/memory"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/httpapi"
	"github.com/eventbus-go/eventbus/router"
)

// The zeromq scenario: ZeroMQ fan-out. One operation is an event POSTed in
// binary mode that ends when each of zmqSubscribers SUB sockets (zmq4's,
// in the load generator) has received it as two frames, type then the
// structured CloudEvent.
//
//	eventbus   the bus, one route on mem:// whose topic target is
//	           zmq+tcp:// (block, hwm 1000: a bounded queue per subscriber)
//	glue       what a user would write instead: a net/http handler that
//	           reads the event with sdk-go and sends it on zmq4's own PUB
//	           socket (one unbounded queue shared by all subscribers)
//
// The PUB socket binds the address in EVENTBUS_BENCH_ZMQ, a free port the
// load generator picked.
func init() {
	servers["eventbus-zmq"] = serveZMQBus
	servers["glue-zmq"] = serveZMQGlue
	register(Scenario{
		Name:    "zeromq",
		About:   fmt.Sprintf("POST a CloudEvent → published on a ZeroMQ PUB socket → received by %d SUB sockets", zmqSubscribers),
		Workers: 32,
		Contenders: []Contender{
			{Name: "eventbus", Start: startZMQChild("eventbus-zmq")},
			{Name: "glue", Start: startZMQChild("glue-zmq")},
		},
	})
}

const (
	envZMQ         = "EVENTBUS_BENCH_ZMQ"
	zmqSubscribers = 4
)

func serveZMQBus(ctx context.Context, ln net.Listener) error {
	route := router.Route{
		Name:     "bench-zmq",
		Match:    json.RawMessage(`{"type":["` + benchEventType + `"]}`),
		Backend:  memory.Scheme + "://",
		Target:   router.Target{Topic: &router.TopicTarget{URL: "zmq+tcp://" + os.Getenv(envZMQ)}},
		Delivery: router.Delivery{MaxInflight: consumers},
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	b, err := httpapi.New(ctx, bus.Config{Routes: []router.Route{route}}, log)
	if err != nil {
		return err
	}
	return b.Run(ctx, ln)
}

func serveZMQGlue(ctx context.Context, ln net.Listener) error {
	pub := zmq4.NewPub(context.Background())
	if err := pub.Listen("tcp://" + os.Getenv(envZMQ)); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
		e, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, err := e.MarshalJSON()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := pub.Send(zmq4.NewMsgFrom([]byte(e.Type()), body)); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	err := serveUntilDone(ctx, ln, mux)
	return errors.Join(err, pub.Close())
}

// fanIn counts, per event id, how many subscribers received it.
type fanIn struct {
	mu      sync.Mutex
	waiting map[string]*fanWait
}

type fanWait struct {
	seen int
	done chan struct{}
}

func (f *fanIn) expect(id string) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fanWait{done: make(chan struct{})}
	f.waiting[id] = w
	return w.done
}

func (f *fanIn) forget(id string) {
	f.mu.Lock()
	delete(f.waiting, id)
	f.mu.Unlock()
}

func (f *fanIn) received(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.waiting[id]
	if w == nil {
		return
	}
	if w.seen++; w.seen == zmqSubscribers {
		close(w.done)
		delete(f.waiting, id)
	}
}

// startZMQChild starts server name with its PUB socket on a free port,
// connects the subscribers, and returns once every subscriber receives
// what is published (ZeroMQ drops what is sent before a subscription
// arrives).
func startZMQChild(name string) func(context.Context, StartOptions) (*Instance, error) {
	return func(ctx context.Context, opts StartOptions) (*Instance, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := ln.Addr().String()
		ln.Close()
		os.Setenv(envZMQ, addr)
		c, err := startChild(ctx, name, opts)
		if err != nil {
			return nil, err
		}
		in := &fanIn{waiting: map[string]*fanWait{}}
		var subs []zmq4.Socket
		var wg sync.WaitGroup
		stopSubs := func() {
			for _, s := range subs {
				_ = s.Close()
			}
			wg.Wait()
		}
		for range zmqSubscribers {
			s := zmq4.NewSub(context.Background())
			subs = append(subs, s)
			if err := s.Dial("tcp://" + addr); err != nil {
				stopSubs()
				return nil, errors.Join(err, c.stop())
			}
			if err := s.SetOption(zmq4.OptionSubscribe, ""); err != nil {
				stopSubs()
				return nil, errors.Join(err, c.stop())
			}
			wg.Go(func() {
				for {
					m, err := s.Recv()
					if err != nil {
						return
					}
					var e struct {
						ID string `json:"id"`
					}
					if len(m.Frames) == 2 && json.Unmarshal(m.Frames[1], &e) == nil {
						in.received(e.ID)
					}
				}
			})
		}
		client := newLoadClient()
		post := "http://" + c.addr + "/events"
		var seq atomic.Uint64
		op := func(ctx context.Context) error {
			id := strconv.FormatUint(seq.Add(1), 10)
			done := in.expect(id)
			if err := postEvent(client, post, id, ""); err != nil {
				in.forget(id)
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				in.forget(id)
				return fmt.Errorf("event %s did not reach all %d subscribers: %w", id, zmqSubscribers, ctx.Err())
			}
		}
		stop := func() error {
			client.closeIdleConnections()
			err := c.stop()
			stopSubs()
			return err
		}
		// Warm up until an event reaches every subscriber.
		ready, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for {
			attempt, cancelAttempt := context.WithTimeout(ready, 200*time.Millisecond)
			err := op(attempt)
			cancelAttempt()
			if err == nil {
				break
			}
			if ready.Err() != nil {
				return nil, errors.Join(fmt.Errorf("%s: subscribers never all received: %w", name, err), stop())
			}
		}
		return &Instance{PID: c.cmd.Process.Pid, Op: op, Stop: stop}, nil
	}
}
