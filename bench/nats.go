package main

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eventbus-go/eventbus/adapters/memory"
	"github.com/eventbus-go/eventbus/adapters/nats"
)

// The nats scenario: one operation is an event's whole trip, as in the
// rabbitmq scenarios. A producer POSTs it in binary mode; the contender
// stores it before it answers 202; a consumer POSTs it to an HTTP target,
// and the operation ends when the target has it.
//
//	eventbus   the bus, one route on nats:// (a JetStream file stream)
//	glue       what a user would write instead: a net/http handler
//	           publishing with nats.go's jetstream package (waiting for
//	           the publish ack) and a pull consumer POSTing to the target
//	embedded   the bus on its default backend, nats+embedded://, a NATS
//	           server inside the bus's process, storing in a fresh directory
//	memory     the bus on mem://, which keeps nothing across a restart:
//	           what durability costs is embedded against memory
//
// The server comes from EVENTBUS_TEST_NATS, as in the tests, else the
// local default, nats://127.0.0.1:4222. Every contender makes streams of
// its own, with unique names, and deletes them.
func init() {
	servers["eventbus-nats"] = serveNATSBus
	servers["eventbus-nats-embedded"] = serveEmbeddedBus
	servers["eventbus-mem"] = serveMemBus
	servers["glue-nats"] = serveGlueWith(openNATSGlue)
	register(Scenario{
		Name:    "nats",
		About:   "POST a CloudEvent → stored in NATS JetStream → POSTed to an HTTP target; embedded is serve's default backend, memory is mem://",
		Workers: 32,
		Contenders: []Contender{
			{Name: "eventbus", Start: startPipelineChild("eventbus-nats")},
			{Name: "glue", Start: startPipelineChild("glue-nats")},
			{Name: "embedded", Start: startPipelineChild("eventbus-nats-embedded")},
			{Name: "memory", Start: startPipelineChild("eventbus-mem")},
		},
	})
}

// natsServer is the NATS server of the scenario: EVENTBUS_TEST_NATS, or
// the local default.
func natsServer() string {
	if raw := os.Getenv("EVENTBUS_TEST_NATS"); raw != "" {
		return raw
	}
	return "nats://127.0.0.1:4222"
}

func serveNATSBus(ctx context.Context, ln net.Listener) error {
	return serveRouteBus(ctx, ln, natsServer(), nats.Open)
}

// serveEmbeddedBus runs the bus on an embedded server whose store is a
// directory of its own, removed when it stops.
func serveEmbeddedBus(ctx context.Context, ln net.Listener) error {
	dir, err := os.MkdirTemp("", "eventbus-bench-nats")
	if err != nil {
		return err
	}
	backend := nats.SchemeEmbedded + "://?dir=" + url.QueryEscape(dir)
	return errors.Join(serveRouteBus(ctx, ln, backend, nats.OpenEmbedded), os.RemoveAll(dir))
}

func serveMemBus(ctx context.Context, ln net.Listener) error {
	return serveRouteBus(ctx, ln, memory.Scheme+"://", memory.Open)
}

// openNATSGlue is the glue on nats.go's jetstream package as its
// documentation shows: a file-backed work-queue stream with a durable pull
// consumer; each handler publishes and waits for its ack; one reader takes
// messages from a Messages iterator, which keeps up to consumers pulled
// ahead, and hands them to a pool of delivering workers.
func openNATSGlue(queue string) (*glue, error) {
	nc, err := natsgo.Connect(natsServer())
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: queue, Subjects: []string{queue}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "glue", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		nc.Close()
		return nil, err
	}
	g := &glue{close: func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := js.DeleteStream(ctx, queue)
		nc.Close()
		return err
	}}
	g.publish = func(ctx context.Context, headers map[string]string, body []byte) error {
		msg := &natsgo.Msg{Subject: queue, Data: body, Header: natsgo.Header{}}
		for k, v := range headers {
			msg.Header[k] = []string{v}
		}
		_, err := js.PublishMsg(ctx, msg)
		return err
	}
	g.receive = func(ctx context.Context, deliver func(map[string]string, []byte) error) {
		it, err := cons.Messages(jetstream.PullMaxMessages(consumers))
		if err != nil {
			return
		}
		context.AfterFunc(ctx, it.Stop)
		work := make(chan jetstream.Msg)
		var wg sync.WaitGroup
		for range consumers {
			wg.Go(func() {
				for m := range work {
					headers := map[string]string{}
					for k, v := range m.Headers() {
						if strings.HasPrefix(k, "Ce-") || k == "Content-Type" {
							headers[k] = v[0]
						}
					}
					if deliver(headers, m.Data()) == nil {
						_ = m.Ack()
					} else {
						_ = m.Nak()
					}
				}
			})
		}
		for {
			m, err := it.Next()
			if err != nil {
				break
			}
			work <- m
		}
		close(work)
		wg.Wait()
	}
	return g, nil
}
