package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/httpapi"
)

// TestMain lets the test binary stand in for the bench program: the harness
// starts servers by re-executing its own binary as "serve-<name>".
func TestMain(m *testing.M) {
	if name, ok := childName(os.Args[1:]); ok {
		if err := runChild(name, os.Args[2:]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkIngress calls the ingress handler directly, in process, with one
// binary-mode event per iteration: what decoding, validating, matching and
// storing cost without the network. "bare" is the least handler, as a floor;
// "eventbus+key" adds an API key and the ACL check; "eventbus-nohistory"
// turns the event history off, to price recording each event in it.
func BenchmarkIngress(b *testing.B) {
	run := func(cfg bus.Config, authorization string) func(b *testing.B) {
		return func(b *testing.B) {
			benchmarkHandler(b, benchBus(b, cfg), authorization)
		}
	}
	b.Run("eventbus", run(ingressConfig(), ""))
	b.Run("eventbus+key", run(ingressKeyConfig(), "Bearer "+benchKey()))
	b.Run("eventbus-nohistory", run(ingressNoHistoryConfig(), ""))
	b.Run("bare", func(b *testing.B) {
		benchmarkHandler(b, http.HandlerFunc(bareHandler), "")
	})
}

func benchmarkHandler(b *testing.B, h http.Handler, authorization string) {
	post := newEventPoster(b, h, authorization)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchData)))
	for i := 0; b.Loop(); i++ {
		post(strconv.Itoa(i))
	}
}

// BenchmarkDelivery delivers events through a bus in process, one at a
// time: each iteration hands the ingress handler (net/http's, not the
// fast lane) one binary-mode event on a mem:// route and waits until the
// target has it, delivered in a request of its own over loopback HTTP.
// Its figures are ingress and delivery together, the target's share
// included, without the producer's HTTP.
func BenchmarkDelivery(b *testing.B) {
	target, err := startArrivals()
	if err != nil {
		b.Fatal(err)
	}
	// Cleanups run last first: the bus, which waits until its channel is
	// delivered, stops before its target.
	b.Cleanup(func() { _ = target.stop() })
	post := newEventPoster(b, benchBus(b, e2eConfig(target.url, false)), "")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := strconv.Itoa(i)
		arrived := target.expect(id)
		post(id)
		select {
		case <-arrived:
		case <-time.After(e2eTimeout):
			b.Fatalf("the target did not get event %s within %v", id, e2eTimeout)
		}
	}
}

// newEventPoster returns a function that hands h the binary-mode bench
// event with the given id, with authorization if it is not empty, and
// fails the benchmark unless h accepts it.
func newEventPoster(b *testing.B, h http.Handler, authorization string) func(id string) {
	body := bytes.NewReader(benchData)
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/events", body)
	if err != nil {
		b.Fatal(err)
	}
	eachEventHeader("0", req.Header.Set)
	if authorization != "" {
		req.Header["Authorization"] = []string{authorization}
	}
	w := &discardWriter{header: http.Header{}}
	return func(id string) {
		body.Reset(benchData)
		req.Body = io.NopCloser(body)
		req.Header["Ce-Id"] = []string{id}
		clear(w.header)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusAccepted {
			b.Fatalf("status %d, want 202", w.status)
		}
	}
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func (w *discardWriter) WriteHeader(status int) { w.status = status }

// BenchmarkBatchIngress calls the ingress handler directly, in process,
// with one batch-mode request of batchSize events per iteration: what one
// event of a batch costs without the network (building the body, a small
// part of it, included).
func BenchmarkBatchIngress(b *testing.B) {
	h := benchBus(b, ingressConfig())
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		serveBatch(b, h, w, strconv.Itoa(i))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/event")
}

// BenchmarkBatchDelivery is the batch-e2e contender in process: each
// iteration POSTs one batch of batchSize events to the ingress handler and
// waits until the sink has them all, delivered in batches over loopback
// HTTP. Its figures include the sink's share, which is small: it reads
// only the ids.
func BenchmarkBatchDelivery(b *testing.B) {
	s, stopSink, err := startSink()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stopSink() }()
	h := benchBus(b, e2eConfig(s.url, true))
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		op := strconv.Itoa(i)
		done := s.expect(op)
		serveBatch(b, h, w, op)
		select {
		case <-done:
		case <-time.After(e2eTimeout):
			b.Fatalf("the sink did not get the %d events of operation %s within %v", batchSize, op, e2eTimeout)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/event")
}

// benchBus starts a bus with cfg for the benchmark and returns its
// handler; the bus shuts down when the benchmark ends.
func benchBus(b *testing.B, cfg bus.Config) http.Handler {
	ctx, cancel := context.WithCancel(context.Background())
	bs, err := httpapi.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = bs.Shutdown(context.Background())
		cancel()
	})
	return bs.Handler()
}

// serveBatch hands h the batch-mode request of operation op's events and
// fails the benchmark unless h accepts it.
func serveBatch(b *testing.B, h http.Handler, w *discardWriter, op string) {
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/events", bytes.NewReader(batchBody(op)))
	if err != nil {
		b.Fatal(err)
	}
	req.Header["Content-Type"] = []string{"application/cloudevents-batch+json"}
	clear(w.header)
	w.status = 0
	h.ServeHTTP(w, req)
	if w.status != http.StatusAccepted {
		b.Fatalf("status %d, want 202", w.status)
	}
}
