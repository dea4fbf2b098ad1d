package main

import (
	"context"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventbus-go/eventbus/adapters/activemq"
	"github.com/eventbus-go/eventbus/adapters/activemq/stomp"
)

// The activemq scenario: one operation is an event's whole trip, as in the
// rabbitmq and nats scenarios. A producer POSTs it in binary mode; the
// contender stores it in ActiveMQ before it answers 202; a consumer POSTs
// it to an HTTP target, and the operation ends when the target has it.
//
//	eventbus   the bus, one route on activemq:// (a persistent queue)
//	glue       what a user would write instead, on the same STOMP client:
//	           a net/http handler sending persistent messages with a
//	           receipt on one connection, and a client-individual
//	           subscription with a prefetch of 64 POSTing to the target
//
// The broker comes from EVENTBUS_TEST_ACTIVEMQ, as in the tests, else
// scripts/activemq.sh's, activemq://127.0.0.1:61613.
func init() {
	servers["eventbus-activemq"] = serveActiveMQBus
	servers["glue-activemq"] = serveGlueWith(openActiveMQGlue)
	register(Scenario{
		Name:    "activemq",
		About:   "POST a CloudEvent → stored in ActiveMQ (STOMP, persistent) → POSTed to an HTTP target",
		Workers: 32,
		Contenders: []Contender{
			{Name: "eventbus", Start: startPipelineChild("eventbus-activemq")},
			{Name: "glue", Start: startPipelineChild("glue-activemq")},
		},
	})
}

// activemqBroker is the broker of the scenario.
func activemqBroker() string {
	if raw := os.Getenv("EVENTBUS_TEST_ACTIVEMQ"); raw != "" {
		return raw
	}
	return "activemq://127.0.0.1:61613"
}

func serveActiveMQBus(ctx context.Context, ln net.Listener) error {
	return serveRouteBus(ctx, ln, activemqBroker(), activemq.Open)
}

// openActiveMQGlue is the glue on the bus's own STOMP client, as a user
// of that client would write it.
func openActiveMQGlue(queue string) (*glue, error) {
	u, err := url.Parse(activemqBroker())
	if err != nil {
		return nil, err
	}
	var opts stomp.Options
	if u.User != nil {
		opts.Login = u.User.Username()
		opts.Passcode, _ = u.User.Password()
	}
	dial := func() (*stomp.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return stomp.Dial(ctx, u.Host, opts)
	}
	sender, err := dial()
	if err != nil {
		return nil, err
	}
	dest := "/queue/glue." + queue
	g := &glue{close: func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return sender.Close(ctx)
	}}
	g.publish = func(ctx context.Context, headers map[string]string, body []byte) error {
		h := map[string]string{"destination": dest, "persistent": "true"}
		for k, v := range headers {
			h[strings.ToLower(k)] = v
		}
		return sender.Send(ctx, h, body)
	}
	g.receive = func(ctx context.Context, deliver func(map[string]string, []byte) error) {
		c, err := dial()
		if err != nil {
			return
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = c.Close(ctx)
		}()
		sub, err := c.Subscribe(ctx, map[string]string{
			"destination": dest, "ack": "client-individual", "activemq.prefetchSize": strconv.Itoa(consumers),
		}, 2*consumers)
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		for range consumers {
			wg.Go(func() {
				for {
					select {
					case f := <-sub.C():
						headers := map[string]string{}
						for k, v := range f.Headers {
							if strings.HasPrefix(k, "ce-") || k == "content-type" {
								headers[k] = v
							}
						}
						if deliver(headers, f.Body) != nil {
							// Send it again for a later try, then take this copy.
							h := map[string]string{"destination": dest, "persistent": "true"}
							for k, v := range headers {
								h[k] = v
							}
							if sender.Send(ctx, h, f.Body) != nil {
								continue // unacked: the broker delivers it again
							}
						}
						_ = c.Ack(f.Headers["ack"])
					case <-ctx.Done():
						return
					case <-c.Done():
						return
					}
				}
			})
		}
		wg.Wait()
	}
	return g, nil
}
