package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/eventbus-go/eventbus/adapters/zeromq"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// SourceConfig feeds a bus from something that publishes without knowing
// the bus: today, ZeroMQ PUB sockets.
type SourceConfig struct {
	Name string `json:"name"`
	// Bus receives the events; empty means the default bus.
	Bus    string        `json:"bus,omitempty"`
	ZeroMQ *ZeroMQSource `json:"zeromq"`
	// Wrap, when set, takes each message's last frame as the data of a
	// new event of this type and source; without it every message must
	// carry a structured CloudEvent (JSON) in its last frame.
	Wrap *WrapConfig `json:"wrap,omitempty"`
	// MaxWait bounds how long one event waits for the bus to take it
	// while its backend is down or its route full; 0 means
	// DefaultSourceMaxWait. Past it the event is lost (logged, counted).
	MaxWait spec.Duration `json:"max_wait,omitzero"`
}

// ZeroMQSource connects SUB sockets to existing publishers.
type ZeroMQSource struct {
	// Endpoints are publishers, as zmq+tcp://host:port.
	Endpoints []string `json:"endpoints"`
	// Subscribe are topic prefixes; empty means every message.
	Subscribe []string `json:"subscribe,omitempty"`
	// MaxFrameBytes bounds one frame; 0 means 1 MiB.
	MaxFrameBytes int `json:"max_frame_bytes,omitempty"`
}

// WrapConfig makes events of raw messages: a new id, the time received,
// this type and source, the message's first frame as subject (when it has
// two or more frames) and its last frame as data.
type WrapConfig struct {
	Type   string `json:"type"`
	Source string `json:"source"`
	// ContentType of the data; empty means application/octet-stream.
	ContentType string `json:"content_type,omitempty"`
}

// DefaultSourceMaxWait is how long a source's event waits for the bus by
// default.
const DefaultSourceMaxWait = 30 * time.Second

const maxSourceEndpoints = 64

func (s SourceConfig) validate(buses map[string]bool) error {
	var errs []error
	add := func(path, msg string) { errs = append(errs, &spec.FieldError{Path: path, Message: msg}) }
	if err := router.ValidateName("name", s.Name); err != nil {
		errs = append(errs, err)
	}
	if bus := cmp.Or(s.Bus, router.DefaultBus); !buses[bus] {
		add("bus", fmt.Sprintf("bus %q is not declared: add it under buses", bus))
	}
	if s.MaxWait < 0 {
		add("max_wait", "must not be negative")
	}
	z := s.ZeroMQ
	if z == nil {
		add("zeromq", "is required: the publishers to subscribe to")
		return errors.Join(errs...)
	}
	if len(z.Endpoints) == 0 || len(z.Endpoints) > maxSourceEndpoints {
		add("zeromq.endpoints", fmt.Sprintf("list 1 to %d publishers, such as zmq+tcp://127.0.0.1:5556", maxSourceEndpoints))
	}
	for i, ep := range z.Endpoints {
		if _, connect, err := router.ZeroMQEndpoint(ep); err != nil {
			add(fmt.Sprintf("zeromq.endpoints[%d]", i), err.Error())
		} else if strings.Contains(ep, "?") && !connect {
			add(fmt.Sprintf("zeromq.endpoints[%d]", i), "a source always connects: leave out ?connect")
		}
	}
	if len(z.Subscribe) > zeromq.MaxSubscriptions {
		add("zeromq.subscribe", fmt.Sprintf("at most %d prefixes", zeromq.MaxSubscriptions))
	}
	for i, p := range z.Subscribe {
		if len(p) > zeromq.MaxSubscriptionBytes {
			add(fmt.Sprintf("zeromq.subscribe[%d]", i), fmt.Sprintf("at most %d bytes", zeromq.MaxSubscriptionBytes))
		}
	}
	if z.MaxFrameBytes < 0 || z.MaxFrameBytes > 64<<20 {
		add("zeromq.max_frame_bytes", "must be from 1 to 64 MiB (0 means 1 MiB)")
	}
	if w := s.Wrap; w != nil {
		if w.Type == "" {
			add("wrap.type", "is required: the type of the events made of raw messages")
		}
		if w.Source == "" {
			add("wrap.source", "is required: the source of the events made of raw messages")
		}
	}
	return errors.Join(errs...)
}

// SourceStats count what a source received since the bus started.
type SourceStats struct {
	Received  int64 `json:"received"`  // messages read from publishers
	Ingested  int64 `json:"ingested"`  // stored on the bus
	Malformed int64 `json:"malformed"` // not an event (or refused as invalid): logged, dropped
	Lost      int64 `json:"lost"`      // valid, but the bus could not take it within max_wait
}

// source is a running SourceConfig.
type source struct {
	cfg     SourceConfig
	sub     *zeromq.Subscriber
	now     func() time.Time
	log     *slog.Logger
	ingest  func(ctx context.Context, bus string, events []*event.Event) ([]Result, error)
	maxWait time.Duration

	received, ingested, malformed, lost atomic.Int64
}

// startSources connects the config's sources; they run until Shutdown.
func (b *Bus) startSources() error {
	for i, cfg := range b.cfg.Sources {
		src := &source{
			cfg: cfg, now: time.Now, log: b.log.With("source", cfg.Name), ingest: b.Ingest,
			maxWait: time.Duration(cfg.MaxWait),
		}
		if src.maxWait == 0 {
			src.maxWait = DefaultSourceMaxWait
		}
		eps := make([]string, len(cfg.ZeroMQ.Endpoints))
		for j, ep := range cfg.ZeroMQ.Endpoints {
			eps[j], _, _ = router.ZeroMQEndpoint(ep)
		}
		sub, err := zeromq.NewSubscriber(zeromq.SubscriberOptions{
			Endpoints:     eps,
			Subscribe:     cfg.ZeroMQ.Subscribe,
			MaxFrameBytes: cfg.ZeroMQ.MaxFrameBytes,
			Log:           src.log,
		}, src.handle)
		if err != nil {
			return fmt.Errorf("sources[%d] (%s): %w", i, cfg.Name, err)
		}
		src.sub = sub
		b.sources = append(b.sources, src)
	}
	return nil
}

// stopSources disconnects every source and waits for the events in hand.
func (b *Bus) stopSources() {
	for _, s := range b.sources {
		_ = s.sub.Close()
	}
}

// SourceSample is one source's counters and connections, for /metrics.
type SourceSample struct {
	Name, Bus string
	Stats     SourceStats
	Connected int // publishers connected now
}

// SourceSamples reports every source, in the config's order.
func (b *Bus) SourceSamples() []SourceSample {
	samples := make([]SourceSample, 0, len(b.sources))
	for _, s := range b.sources {
		samples = append(samples, SourceSample{
			Name: s.cfg.Name,
			Bus:  cmp.Or(s.cfg.Bus, router.DefaultBus),
			Stats: SourceStats{
				Received:  s.received.Load(),
				Ingested:  s.ingested.Load(),
				Malformed: s.malformed.Load(),
				Lost:      s.lost.Load(),
			},
			Connected: s.sub.Connected(),
		})
	}
	return samples
}

// SourceStats reports a source's counters and how many of its publishers
// are connected.
func (b *Bus) SourceStats(name string) (SourceStats, int, error) {
	for _, s := range b.SourceSamples() {
		if s.Name == name {
			return s.Stats, s.Connected, nil
		}
	}
	return SourceStats{}, 0, errcode.Errorf(errcode.NotFound, "source %q is not in the config", name)
}

// handle turns one message into an event and stores it on the bus. It
// blocks while the bus cannot take it (backend down, route full), for at
// most maxWait: meanwhile the publisher's queue fills, and its high-water
// mark decides what it drops. ZeroMQ has no acknowledgements, so an event
// given up on is lost, as is one the bus cannot take while it stops.
func (s *source) handle(ctx context.Context, frames [][]byte) {
	s.received.Add(1)
	e, err := s.event(frames)
	if err != nil {
		s.malformed.Add(1)
		s.log.Warn("ZeroMQ source dropped a message that is not an event", "err", err)
		return
	}
	deadline := s.now().Add(s.maxWait)
	wait := 50 * time.Millisecond
	// The event in hand is stored even when the source is stopping; only
	// waiting for a bus that cannot take it ends with the source.
	storeCtx := context.WithoutCancel(ctx)
	for {
		err := s.store(storeCtx, e)
		if err == nil {
			s.ingested.Add(1)
			return
		}
		code := errcode.Of(err)
		if code != errcode.Unavailable && code != errcode.ResourceExhausted {
			s.malformed.Add(1)
			s.log.Warn("ZeroMQ source's event was refused", "event_id", e.ID(), "err", err)
			return
		}
		if ctx.Err() != nil || s.now().Add(wait).After(deadline) {
			s.lost.Add(1)
			s.log.Error("ZeroMQ source lost an event: the bus could not take it", "event_id", e.ID(), "waited", s.maxWait, "err", err)
			return
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func (s *source) store(ctx context.Context, e *event.Event) error {
	results, err := s.ingest(ctx, cmp.Or(s.cfg.Bus, router.DefaultBus), []*event.Event{e})
	if err != nil {
		return err
	}
	return results[0].Err
}

// event reads a message: the last frame holds the event (structured JSON)
// or, with wrap, the data.
func (s *source) event(frames [][]byte) (*event.Event, error) {
	if len(frames) == 0 {
		return nil, errors.New("empty message")
	}
	body := frames[len(frames)-1]
	w := s.cfg.Wrap
	if w == nil {
		e := event.New()
		if err := e.UnmarshalJSON(body); err != nil {
			return nil, fmt.Errorf("the last frame is not a structured CloudEvent (JSON): %w", err)
		}
		return &e, nil
	}
	e := event.New()
	e.SetID(uuid.NewString())
	e.SetType(w.Type)
	e.SetSource(w.Source)
	e.SetTime(s.now())
	if len(frames) > 1 && len(frames[0]) > 0 && utf8.Valid(frames[0]) {
		e.SetSubject(string(frames[0]))
	}
	ct := w.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	if err := e.SetData(ct, body); err != nil {
		return nil, err
	}
	return &e, nil
}
