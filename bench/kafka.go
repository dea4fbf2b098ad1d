package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/kafka"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/httpapi"
	"github.com/eventbus-go/eventbus/router"
)

// The kafka scenario: one operation is an event's whole trip, as in the
// rabbitmq scenario. A producer POSTs it in binary mode; the contender
// stores it in a Kafka topic (acks=all, idempotent producer) before it
// answers 202; a consumer in a consumer group takes it from the topic,
// POSTs it to an HTTP target and commits its offset after the 2xx; the
// operation ends when the target (served by this process) has it.
//
//	eventbus   the bus, one route on kafka:// with an HTTP target
//	glue       what a user would write instead, on franz-go: a net/http
//	           handler that produces synchronously, and a consumer that
//	           polls, POSTs a poll's records to the target concurrently and
//	           commits them once all got a 2xx
//	franz-go   produce-consume alone, in this process, without HTTP on
//	           either side: the ceiling
//
// The broker is kfake, franz-go's Kafka-protocol server, run fresh for
// every window in a child process of its own (so that its CPU is charged to
// no contender and its memory starts empty), or else the cluster named by
// EVENTBUS_TEST_KAFKA, as in the tests. Every contender makes topics of its
// own, with unique names, and deletes them.
func init() {
	servers["kafka-broker"] = serveKfake
	servers["eventbus-kafka"] = serveKafkaBus
	servers["glue-franz"] = serveGlueWith(openKafkaGlue)
	register(Scenario{
		Name:    "kafka",
		About:   "POST a CloudEvent → stored in Kafka (acks=all) → POSTed to an HTTP target; one operation ends when the target has it",
		Workers: 32,
		Contenders: []Contender{
			{Name: "eventbus", Start: withKafka(startPipelineChild("eventbus-kafka"))},
			{Name: "glue", Start: withKafka(startPipelineChild("glue-franz"))},
			{Name: "franz-go", Start: withKafka(startRawPipeline(openKafkaGlue))},
		},
	})
}

// envKafka names the brokers (host:port, comma separated) for a kafka
// contender; the parent sets it before starting one.
const envKafka = "EVENTBUS_BENCH_KAFKA"

// kafkaPartitions is the partitions of every topic a contender makes: the
// bus's default.
const kafkaPartitions = 6

// withKafka runs start with a broker: a fresh kfake child for the window,
// stopped after the contender, or the cluster EVENTBUS_TEST_KAFKA names.
func withKafka(start func(context.Context, StartOptions) (*Instance, error)) func(context.Context, StartOptions) (*Instance, error) {
	return func(ctx context.Context, opts StartOptions) (*Instance, error) {
		brokers, stopBroker, err := startKafkaBroker(ctx)
		if err != nil {
			return nil, err
		}
		os.Setenv(envKafka, brokers)
		inst, err := start(ctx, opts)
		if err != nil {
			return nil, errors.Join(err, stopBroker())
		}
		stop := inst.Stop
		inst.Stop = func() error { return errors.Join(stop(), stopBroker()) }
		return inst, nil
	}
}

// startKafkaBroker returns the brokers to use and how to stop them.
func startKafkaBroker(ctx context.Context) (string, func() error, error) {
	if raw := os.Getenv("EVENTBUS_TEST_KAFKA"); raw != "" {
		hosts := strings.TrimPrefix(raw, kafka.Scheme+"://")
		hosts, _, _ = strings.Cut(hosts, "?")
		return hosts, func() error { return nil }, nil
	}
	c, err := startChild(ctx, "kafka-broker", StartOptions{})
	if err != nil {
		return "", nil, err
	}
	brokers, err := getText(ctx, "http://"+c.addr+"/brokers")
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("asking the kfake child for its address: %w", err), c.stop())
	}
	return brokers, c.stop, nil
}

func getText(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// serveKfake runs a one-broker kfake cluster on a loopback port of its own;
// its HTTP server on ln answers GET /brokers with that address.
func serveKfake(ctx context.Context, ln net.Listener) error {
	kln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return kln, nil }))
	if err != nil {
		_ = kln.Close()
		return err
	}
	defer c.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /brokers", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, kln.Addr().String())
	})
	return serveUntilDone(ctx, ln, mux)
}

// serveUntilDone serves h on ln until ctx ends.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveKafkaBus runs a bus with one route on Kafka, and deletes the route's
// topics when it stops.
func serveKafkaBus(ctx context.Context, ln net.Listener) error {
	backend := kafka.Scheme + "://" + os.Getenv(envKafka)
	return serveRouteBus(ctx, ln, backend, kafka.Open)
}

// serveRouteBus runs a bus with one route on backend, delivering to the
// bench target, and deletes the route's channels (open opens the backend
// for that) once the bus has stopped.
func serveRouteBus(ctx context.Context, ln net.Listener, backend string, open adapters.Opener) error {
	return serveRouteBusInflight(ctx, ln, backend, open, consumers)
}

// serveRouteBusInflight is serveRouteBus with the route's max_inflight.
func serveRouteBusInflight(ctx context.Context, ln net.Listener, backend string, open adapters.Opener, maxInflight int) error {
	route := router.Route{
		Name:     os.Getenv(envQueue),
		Match:    json.RawMessage(`{"type":["` + benchEventType + `"]}`),
		Backend:  backend,
		Target:   router.Target{HTTP: &router.HTTPTarget{URL: os.Getenv(envTarget)}},
		Delivery: router.Delivery{MaxInflight: maxInflight},
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	b, err := httpapi.New(ctx, bus.Config{Routes: []router.Route{route}}, log)
	if err != nil {
		return err
	}
	runErr := b.Run(ctx, ln)
	return errors.Join(runErr, deleteChannels(backend, open, route.Name, route.Name+router.DeadLetterSuffix))
}

// deleteChannels deletes channels on backend, which open opens.
func deleteChannels(backend string, open adapters.Opener, channels ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := url.Parse(backend)
	if err != nil {
		return err
	}
	be, err := open(ctx, u)
	if err != nil {
		return err
	}
	defer be.Close()
	var errs []error
	for _, ch := range channels {
		errs = append(errs, be.DeleteChannel(ctx, ch))
	}
	return errors.Join(errs...)
}

// startPipelineChild starts server name in a child with its own target and
// queue (or route, or topic) name; an operation POSTs one event, waits for
// its arrival at the target and reports when the 202 came. The broker's
// address is in the environment already.
func startPipelineChild(name string) func(context.Context, StartOptions) (*Instance, error) {
	return func(ctx context.Context, opts StartOptions) (*Instance, error) {
		target, err := startArrivals()
		if err != nil {
			return nil, err
		}
		os.Setenv(envTarget, target.url)
		os.Setenv(envQueue, fmt.Sprintf("bench-%s-%d", name, time.Now().UnixNano()))
		c, err := startChild(ctx, name, opts)
		if err != nil {
			return nil, errors.Join(err, target.stop())
		}
		client := newLoadClient()
		post := "http://" + c.addr + "/events"
		var seq atomic.Uint64
		op := func(ctx context.Context) (time.Time, error) {
			id := strconv.FormatUint(seq.Add(1), 10)
			arrived := target.expect(id)
			if err := postEvent(client, post, id, ""); err != nil {
				target.forget(id)
				return time.Time{}, err
			}
			accepted := time.Now()
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return accepted, target.await(ctx, id, arrived)
		}
		stop := func() error {
			client.closeIdleConnections()
			return errors.Join(c.stop(), target.stop())
		}
		return &Instance{PID: c.cmd.Process.Pid, Staged: op, Stop: stop}, nil
	}
}

// startRawPipeline is a ceiling: open's glue publishes and consumes in this
// process, with no HTTP on either side. Its CPU figure counts this process,
// load generator included.
func startRawPipeline(open func(queue string) (*glue, error)) func(context.Context, StartOptions) (*Instance, error) {
	return func(context.Context, StartOptions) (*Instance, error) {
		target := &arrivals{waiting: map[string]chan struct{}{}}
		g, err := open(fmt.Sprintf("bench-raw-%d", time.Now().UnixNano()))
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
			return g.close()
		}
		return &Instance{PID: os.Getpid(), Op: op, Stop: stop}, nil
	}
}

// serveGlueWith runs a hand-written service on the glue open returns for
// the queue named in the environment: an HTTP handler that takes
// binary-mode events and publishes them, and consumers that POST each to
// the target. The glue's close deletes what open made.
func serveGlueWith(open func(queue string) (*glue, error)) server {
	return func(ctx context.Context, ln net.Listener) error {
		g, err := open(os.Getenv(envQueue))
		if err != nil {
			return err
		}
		deliver := targetPoster(os.Getenv(envTarget))
		rctx, stopReceiving := context.WithCancel(ctx)
		received := make(chan struct{})
		go func() {
			defer close(received)
			g.receive(rctx, deliver)
		}()

		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
		mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			headers := map[string]string{"Content-Type": r.Header.Get("Content-Type")}
			for k, v := range r.Header {
				if strings.HasPrefix(k, "Ce-") {
					headers[k] = v[0]
				}
			}
			if err := g.publish(r.Context(), headers, body); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		})
		err = serveUntilDone(ctx, ln, mux)
		stopReceiving()
		<-received
		return errors.Join(err, g.close())
	}
}

// targetPoster returns a glue's delivery: POST the event in binary mode to
// target, an error unless the answer is 2xx.
func targetPoster(target string) func(map[string]string, []byte) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: consumers}}
	return func(headers map[string]string, body []byte) error {
		req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return err
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("target answered %s", resp.Status)
		}
		return nil
	}
}

// glueRetryWait is how long a glue consumer waits before it delivers a
// failed event again.
const glueRetryWait = 100 * time.Millisecond

// deliverUntilTaken calls deliver until it succeeds or ctx ends, and
// reports whether it succeeded.
func deliverUntilTaken(ctx context.Context, deliver func() error) bool {
	for {
		if deliver() == nil {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(glueRetryWait):
		}
	}
}

// openKafkaGlue is the glue on franz-go as its documentation shows: a
// topic made with kadm, a producer client whose publish produces one record
// synchronously (acks=all and idempotence are franz-go's defaults; linger
// is set to 0, as the bus does, since every record waits for its answer),
// and a consumer-group client with auto-commit off: each poll's records go
// to up to consumers goroutines, and the poll is committed once every one
// of them was delivered.
func openKafkaGlue(topic string) (*glue, error) {
	seeds := strings.Split(os.Getenv(envKafka), ",")
	producer, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := kadm.NewClient(producer)
	if _, err := admin.CreateTopic(ctx, kafkaPartitions, -1, nil, topic); err != nil {
		producer.Close()
		return nil, fmt.Errorf("creating topic %s: %w", topic, err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumerGroup(topic), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit())
	if err != nil {
		producer.Close()
		return nil, err
	}
	g := &glue{}
	g.publish = func(ctx context.Context, headers map[string]string, body []byte) error {
		rec := &kgo.Record{Value: body, Headers: make([]kgo.RecordHeader, 0, len(headers))}
		for k, v := range headers {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		return producer.ProduceSync(ctx, rec).FirstErr()
	}
	g.receive = func(ctx context.Context, deliver func(map[string]string, []byte) error) {
		slots := make(chan struct{}, consumers)
		for {
			fetches := consumer.PollFetches(ctx)
			if ctx.Err() != nil || fetches.IsClientClosed() {
				return
			}
			var wg sync.WaitGroup
			var undelivered atomic.Bool
			fetches.EachRecord(func(rec *kgo.Record) {
				slots <- struct{}{}
				wg.Go(func() {
					defer func() { <-slots }()
					headers := make(map[string]string, len(rec.Headers))
					for _, h := range rec.Headers {
						headers[h.Key] = string(h.Value)
					}
					if !deliverUntilTaken(ctx, func() error { return deliver(headers, rec.Value) }) {
						undelivered.Store(true)
					}
				})
			})
			wg.Wait()
			if undelivered.Load() {
				return // stopping: the next consumer gets the poll again
			}
			_ = consumer.CommitRecords(ctx, fetches.Records()...)
		}
	}
	g.close = func() error {
		consumer.Close() // commits nothing more, leaves the group
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, terr := admin.DeleteTopic(ctx, topic)
		_, gerr := admin.DeleteGroup(ctx, topic)
		producer.Close()
		return errors.Join(terr, gerr)
	}
	return g, nil
}
