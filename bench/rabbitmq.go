package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/rabbitpubsub"

	"github.com/eventbus-go/eventbus/adapters/rabbitmq"
)

// The rabbitmq scenarios: one operation is an event's whole trip. A
// producer POSTs it in binary mode; the contender stores it durably in a
// RabbitMQ quorum queue (persistent, publisher-confirmed) before it answers
// 202; a consumer takes it from the queue and POSTs it to an HTTP target,
// and the operation ends when the target (served by this process) has it.
//
//	eventbus     the bus, one route on rabbit:// with an HTTP target
//	glue         what a user would write instead: a net/http handler
//	             publishing with amqp091 (persistent, pipelined confirms) and
//	             a consumer POSTing to the target
//	gocloud      the same glue on gocloud's stock rabbitpubsub (which
//	             publishes non-persistent messages: it does less)
//	watermill    the same glue on Watermill's AMQP Pub/Sub (durable
//	             config, confirms on)
//	amqp091      publish-confirm-consume alone, in this process, without
//	             HTTP on either side: the ceiling
//
// "rabbitmq" measures throughput with 32 producers; "rabbitmq-latency"
// measures latency at a fixed 1,000 events/s. Both need a broker:
// EVENTBUS_TEST_RABBIT (amqp:// or rabbit://) as the tests do, else the
// local default, guest@127.0.0.1:5672. Every
// contender declares queues of its own, with unique names, and deletes them.
func init() {
	servers["eventbus-rabbitmq"] = serveRabbitBus
	servers["glue-amqp091"] = serveGlue(openAMQPGlue)
	servers["glue-gocloud"] = serveGlue(openGocloudGlue)
	servers["glue-watermill"] = serveGlue(openWatermillGlue)
	contenders := []Contender{
		{Name: "eventbus", Start: startPipelineChild("eventbus-rabbitmq")},
		{Name: "glue", Start: startPipelineChild("glue-amqp091")},
		{Name: "gocloud", Start: startPipelineChild("glue-gocloud")},
		{Name: "watermill", Start: startPipelineChild("glue-watermill")},
		{Name: "amqp091", Start: startRawAMQP},
	}
	register(Scenario{
		Name:       "rabbitmq",
		About:      "POST a CloudEvent → durable in RabbitMQ → POSTed to an HTTP target; one operation ends when the target has it",
		Workers:    32,
		Contenders: contenders,
	})
	register(Scenario{
		Name:       "rabbitmq-latency",
		About:      "as rabbitmq, at a fixed 1,000 events/s: end-to-end latency",
		Workers:    64,
		Rate:       1000,
		Contenders: contenders,
	})
}

// Environment a rabbitmq child reads: the parent sets it before starting
// one. The broker comes from EVENTBUS_TEST_RABBIT, as in the tests.
const (
	envTarget = "EVENTBUS_BENCH_TARGET" // the HTTP target's URL
	envQueue  = "EVENTBUS_BENCH_QUEUE"  // the route, or the queue, to use
)

// consumers is how many deliveries each contender makes at once: the
// route's max_inflight, the glue's prefetch and consumer goroutines.
const consumers = 64

// localBroker is the broker the rabbitmq scenarios use when
// EVENTBUS_TEST_RABBIT names none: RabbitMQ's defaults on this machine.
const localBroker = "amqp://guest:guest@127.0.0.1:5672/"

// brokerURL returns the broker's amqp:// URL from EVENTBUS_TEST_RABBIT, or
// the local default.
func brokerURL() string {
	raw := os.Getenv("EVENTBUS_TEST_RABBIT")
	if raw == "" {
		raw = localBroker
	}
	if rest, ok := strings.CutPrefix(raw, rabbitmq.Scheme+"://"); ok {
		raw = "amqp://" + rest
	}
	return raw
}

// serveRabbitBus runs a bus with one route on RabbitMQ, and deletes the
// route's queues when it stops.
func serveRabbitBus(ctx context.Context, ln net.Listener) error {
	backend := rabbitmq.Scheme + strings.TrimPrefix(brokerURL(), "amqp")
	return serveRouteBus(ctx, ln, backend, rabbitmq.Open)
}

// glue is the broker side of a hand-written service: publish stores one
// event durably (or as the library does) and returns once stored; receive
// hands stored events to deliver, from many goroutines, until ctx ends.
type glue struct {
	publish func(ctx context.Context, headers map[string]string, body []byte) error
	receive func(ctx context.Context, deliver func(headers map[string]string, body []byte) error)
	close   func() error
}

// serveGlue is serveGlueWith on the local broker, deleting the glue's
// queue when it stops.
func serveGlue(open func(broker, queue string) (*glue, error)) server {
	return serveGlueWith(func(queue string) (*glue, error) {
		broker := brokerURL()
		g, err := open(broker, queue)
		if err != nil {
			return nil, err
		}
		closeGlue := g.close
		g.close = func() error { return errors.Join(closeGlue(), deleteQueue(broker, queue)) }
		return g, nil
	})
}

// declareQueue declares a durable fanout exchange and quorum queue, both
// named name, as the glue's owner would once.
func declareQueue(conn *amqp.Connection, name string) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.ExchangeDeclare(name, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return err
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}); err != nil {
		return err
	}
	return ch.QueueBind(name, "", name, false, nil)
}

// deleteQueue deletes what declareQueue declared.
func deleteQueue(broker, name string) error {
	conn, err := amqp.Dial(broker)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if _, err := ch.QueueDelete(name, false, false, false); err != nil {
		return err
	}
	return ch.ExchangeDelete(name, false, false)
}

// openAMQPGlue is the glue on amqp091 as its documentation shows: one
// confirm-mode channel shared by every handler, each waiting for its own
// deferred confirm; a consumer with a prefetch and a pool of workers.
func openAMQPGlue(broker, queue string) (*glue, error) {
	conn, err := amqp.Dial(broker)
	if err != nil {
		return nil, err
	}
	if err := declareQueue(conn, queue); err != nil {
		conn.Close()
		return nil, err
	}
	pub, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := pub.Confirm(false); err != nil {
		conn.Close()
		return nil, err
	}
	g := &glue{close: conn.Close}
	g.publish = func(ctx context.Context, headers map[string]string, body []byte) error {
		table := make(amqp.Table, len(headers))
		for k, v := range headers {
			table[k] = v
		}
		dc, err := pub.PublishWithDeferredConfirmWithContext(ctx, queue, "", false, false, amqp.Publishing{
			Headers: table, DeliveryMode: amqp.Persistent, Body: body,
		})
		if err != nil {
			return err
		}
		ok, err := dc.WaitContext(ctx)
		if err == nil && !ok {
			err = errors.New("the broker nacked the message")
		}
		return err
	}
	g.receive = func(ctx context.Context, deliver func(map[string]string, []byte) error) {
		ch, err := conn.Channel()
		if err != nil {
			return
		}
		defer ch.Close()
		if err := ch.Qos(consumers, 0, false); err != nil {
			return
		}
		deliveries, err := ch.Consume(queue, "", false, false, false, false, nil)
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		for range consumers {
			wg.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case d, ok := <-deliveries:
						if !ok {
							return
						}
						headers := map[string]string{}
						for k, v := range d.Headers {
							if s, ok := v.(string); ok {
								headers[k] = s
							}
						}
						if deliver(headers, d.Body) == nil {
							_ = d.Ack(false)
						} else {
							_ = d.Nack(false, true)
						}
					}
				}
			})
		}
		wg.Wait()
	}
	return g, nil
}

// openGocloudGlue is the glue on gocloud's rabbitpubsub as shipped: it
// declares nothing (so the glue declares the queue) and publishes
// non-persistent messages.
func openGocloudGlue(broker, queue string) (*glue, error) {
	conn, err := amqp.Dial(broker)
	if err != nil {
		return nil, err
	}
	if err := declareQueue(conn, queue); err != nil {
		conn.Close()
		return nil, err
	}
	topic := rabbitpubsub.OpenTopic(conn, queue, nil)
	prefetch := consumers
	sub := rabbitpubsub.OpenSubscription(conn, queue, &rabbitpubsub.SubscriptionOptions{PrefetchCount: &prefetch})
	g := &glue{}
	g.publish = func(ctx context.Context, headers map[string]string, body []byte) error {
		return topic.Send(ctx, &pubsub.Message{Metadata: headers, Body: body})
	}
	g.receive = func(ctx context.Context, deliver func(map[string]string, []byte) error) {
		var wg sync.WaitGroup
		for range consumers {
			wg.Go(func() {
				for {
					m, err := sub.Receive(ctx)
					if err != nil {
						return
					}
					if deliver(m.Metadata, m.Body) == nil {
						m.Ack()
					} else {
						m.Nack()
					}
				}
			})
		}
		wg.Wait()
	}
	g.close = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return errors.Join(topic.Shutdown(ctx), sub.Shutdown(ctx), conn.Close())
	}
	return g, nil
}

// openWatermillGlue is the glue on Watermill's AMQP Pub/Sub: its durable
// config with publisher confirms on, a pool of publishing channels, and as
// many subscriptions as the other glues have consumers (a Watermill
// subscription handles one message at a time).
func openWatermillGlue(broker, queue string) (*glue, error) {
	cfg := wmamqp.NewDurablePubSubConfig(broker, wmamqp.GenerateQueueNameConstant(queue))
	cfg.Queue.Arguments = amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	cfg.Publish.ConfirmDelivery = true
	cfg.Publish.ChannelPoolSize = consumers
	logger := watermill.NopLogger{}
	pub, err := wmamqp.NewPublisher(cfg, logger)
	if err != nil {
		return nil, err
	}
	sub, err := wmamqp.NewSubscriber(cfg, logger)
	if err != nil {
		pub.Close()
		return nil, err
	}
	// Subscribing declares the queue, before the first publish.
	if err := sub.SubscribeInitialize(queue); err != nil {
		pub.Close()
		sub.Close()
		return nil, err
	}
	g := &glue{close: func() error { return errors.Join(pub.Close(), sub.Close()) }}
	g.publish = func(_ context.Context, headers map[string]string, body []byte) error {
		m := message.NewMessage(watermill.NewUUID(), body)
		for k, v := range headers {
			m.Metadata.Set(k, v)
		}
		return pub.Publish(queue, m)
	}
	g.receive = func(ctx context.Context, deliver func(map[string]string, []byte) error) {
		var wg sync.WaitGroup
		for range consumers {
			messages, err := sub.Subscribe(ctx, queue)
			if err != nil {
				break
			}
			wg.Go(func() {
				for m := range messages {
					if deliver(m.Metadata, m.Payload) == nil {
						m.Ack()
					} else {
						m.Nack()
					}
				}
			})
		}
		wg.Wait()
	}
	return g, nil
}

// startRawAMQP is the ceiling: publish with a confirm and consume, in this
// process, with no HTTP on either side. Its CPU figure counts this process,
// load generator included.
func startRawAMQP(context.Context, StartOptions) (*Instance, error) {
	broker := brokerURL()
	queue := fmt.Sprintf("bench-amqp091-%d", time.Now().UnixNano())
	target := &arrivals{waiting: map[string]chan struct{}{}}
	g, err := openAMQPGlue(broker, queue)
	if err != nil {
		return nil, err
	}
	ctx, stopReceiving := context.WithCancel(context.Background())
	received := make(chan struct{})
	go func() {
		defer close(received)
		g.receive(ctx, func(headers map[string]string, _ []byte) error {
			target.arrived(headers["Ce-Id"])
			return nil
		})
	}()
	var seq atomic.Uint64
	op := func(ctx context.Context) error {
		id := strconv.FormatUint(seq.Add(1), 10)
		arrived := target.expect(id)
		if err := g.publish(ctx, map[string]string{"Ce-Id": id}, benchData); err != nil {
			target.forget(id)
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return target.await(ctx, id, arrived)
	}
	stop := func() error {
		stopReceiving()
		<-received
		return errors.Join(g.close(), deleteQueue(broker, queue))
	}
	return &Instance{PID: os.Getpid(), Op: op, Stop: stop}, nil
}
