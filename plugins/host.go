package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/spec"
)

const (
	restartBackoffMin = 100 * time.Millisecond
	restartBackoffMax = 30 * time.Second
)

// Host runs the configured plugins and delivers events to them. Create it
// with NewHost; stop it with Shutdown.
type Host struct {
	log     *slog.Logger
	plugins map[string]*plugin // fixed after NewHost: read without a lock

	stopSupervisors context.CancelFunc
	supervisors     sync.WaitGroup
	closed          atomic.Bool
	shutdown        sync.Once
	shutdownErr     error
}

// plugin is one configured plugin: its processes ("instances", each in a
// slot that a supervisor keeps filled) and its counters.
type plugin struct {
	cfg            Config
	timeout        time.Duration // the host's wait for a verdict
	handlerTimeout time.Duration // what the plugin is told: a little less
	log            *slog.Logger
	slots          []*slot
	next           atomic.Uint64 // round-robin over slots

	restarts atomic.Int64
	inflight atomic.Int64

	mu    sync.Mutex
	ready chan struct{} // closed, and replaced, whenever an instance starts
}

type slot struct {
	index int
	cur   atomic.Pointer[instance] // nil while the instance restarts
}

// Stats are a plugin's counters.
type Stats struct {
	// Restarts counts processes replaced after a crash, a hang or a failed
	// health check.
	Restarts int64
	// InFlight counts deliveries waiting for a verdict now.
	InFlight int64
	// Ready counts the processes running now, of Config.Instances.
	Ready int
}

// Description is what a plugin says about itself (its Describe answer).
type Description struct {
	Name, Version string
	// EventTypes are the CloudEvents types it handles; empty when it did
	// not say.
	EventTypes []string
}

// NewHost validates cfgs and starts every instance of every plugin. It
// returns an error, and leaves nothing running, if any plugin fails to start
// or to complete its handshake. ctx bounds the start only; the processes run
// until Shutdown.
func NewHost(ctx context.Context, cfgs []Config, log *slog.Logger) (*Host, error) {
	return newHost(ctx, cfgs, log, launchChild)
}

func newHost(ctx context.Context, cfgs []Config, log *slog.Logger, launch launcher) (*Host, error) {
	var errs []error
	seen := map[string]int{}
	for i, c := range cfgs {
		for _, err := range unjoin(c.Validate()) {
			var fe *spec.FieldError
			if errors.As(err, &fe) {
				err = &spec.FieldError{Path: fmt.Sprintf("plugins[%d].%s", i, fe.Path), Message: fe.Message}
			}
			errs = append(errs, err)
		}
		if j, dup := seen[c.Name]; dup && c.Name != "" {
			errs = append(errs, &spec.FieldError{Path: fmt.Sprintf("plugins[%d].name", i), Message: fmt.Sprintf("%q is already the name of plugins[%d]", c.Name, j)})
		}
		seen[c.Name] = i
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	h := &Host{log: log, plugins: map[string]*plugin{}}
	for _, c := range cfgs {
		c = c.withDefaults()
		timeout := time.Duration(c.Timeout)
		p := &plugin{
			cfg:            c,
			timeout:        timeout,
			handlerTimeout: timeout - min(timeout/10, time.Second),
			log:            log.With("plugin", c.Name),
			ready:          make(chan struct{}),
		}
		for i := range c.Instances {
			p.slots = append(p.slots, &slot{index: i})
		}
		h.plugins[c.Name] = p
	}

	// Start every instance at once: a start is mostly waiting on a child.
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range h.plugins {
		for _, s := range p.slots {
			wg.Go(func() {
				in, err := startInstance(ctx, launch, p.cfg, s.index, p.timeout, p.handlerTimeout, p.log)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				s.cur.Store(in)
			})
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, p := range h.plugins {
			for _, s := range p.slots {
				if in := s.cur.Load(); in != nil {
					in.fail(errors.New("another plugin failed to start"))
					in.forceKill()
				}
			}
		}
		return nil, err
	}

	superviseCtx, stop := context.WithCancel(context.Background())
	h.stopSupervisors = stop
	for _, p := range h.plugins {
		for _, s := range p.slots {
			h.supervisors.Go(func() { p.supervise(superviseCtx, launch, s) })
		}
	}
	return h, nil
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Has reports whether a plugin of that name is configured.
func (h *Host) Has(name string) bool {
	_, ok := h.plugins[name]
	return ok
}

// Stats returns the counters of the named plugin.
func (h *Host) Stats(name string) (Stats, bool) {
	p, ok := h.plugins[name]
	if !ok {
		return Stats{}, false
	}
	st := Stats{Restarts: p.restarts.Load(), InFlight: p.inflight.Load()}
	for _, s := range p.slots {
		if in := s.cur.Load(); in != nil && !in.failed() {
			st.Ready++
		}
	}
	return st, true
}

// Describe returns what the named plugin said about itself when its first
// running instance started.
func (h *Host) Describe(name string) (Description, bool) {
	p, ok := h.plugins[name]
	if !ok {
		return Description{}, false
	}
	for _, s := range p.slots {
		if in := s.cur.Load(); in != nil {
			return Description{Name: in.desc.GetName(), Version: in.desc.GetVersion(), EventTypes: in.desc.GetEventTypes()}, true
		}
	}
	return Description{}, true
}

// Deliver hands e to one instance of the named plugin and returns its
// verdict. An error means the delivery did not complete — no such plugin,
// no instance ready within the plugin's timeout, the process crashed or
// hung, ctx ended — and the event must be delivered again later. A handler
// that returned an error is not an error here: it is verdict.Retry.
func (h *Host) Deliver(ctx context.Context, name string, e *event.Event) (Result, error) {
	p, ok := h.plugins[name]
	if !ok {
		return Result{}, fmt.Errorf("plugins: no plugin %q is configured; add it to the bus config's plugins list", name)
	}
	if h.closed.Load() {
		return Result{}, fmt.Errorf("plugins: the plugin host is shut down; plugin %q cannot take deliveries", name)
	}
	c, err := newCall(e)
	if err != nil {
		return Result{}, fmt.Errorf("plugins: encoding event %s for plugin %q: %w", e.ID(), name, err)
	}
	p.inflight.Add(1)
	defer p.inflight.Add(-1)
	in, err := p.pick(ctx)
	if err != nil {
		releaseCall(c)
		return Result{}, err
	}
	v, err := in.deliver(ctx, c)
	if err != nil {
		return Result{}, err // c may still be queued: it is not reused
	}
	releaseCall(c)
	return resultFrom(v, e), nil
}

// pick returns a running instance, round-robin, waiting up to the plugin's
// timeout for one while they restart.
func (p *plugin) pick(ctx context.Context) (*instance, error) {
	var timeout <-chan time.Time
	for {
		p.mu.Lock()
		ready := p.ready
		p.mu.Unlock()
		n := uint64(len(p.slots))
		start := p.next.Add(1)
		for i := range n {
			if in := p.slots[(start+i)%n].cur.Load(); in != nil && !in.failed() {
				return in, nil
			}
		}
		if timeout == nil {
			t := time.NewTimer(p.timeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ready:
		case <-timeout:
			return nil, fmt.Errorf("plugins: no instance of plugin %q came up within its timeout (%s); it is restarting, see the log for why it failed", p.cfg.Name, p.timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (p *plugin) announceReady() {
	p.mu.Lock()
	close(p.ready)
	p.ready = make(chan struct{})
	p.mu.Unlock()
}

// supervise keeps one slot's process running until ctx ends: it
// health-checks the process and, when it fails, kills it and starts
// another, with exponential backoff while failures repeat.
func (p *plugin) supervise(ctx context.Context, launch launcher, s *slot) {
	backoff := restartBackoffMin
	health := time.NewTicker(healthInterval)
	defer health.Stop()
	for {
		in := s.cur.Load()
		started := time.Now()
	watch:
		for {
			select {
			case <-ctx.Done():
				return // Shutdown stops the instance
			case <-in.dead:
				break watch
			case <-health.C:
				if err := in.check(ctx, p.timeout); err != nil && ctx.Err() == nil {
					in.fail(fmt.Errorf("health check failed: %w", err))
				}
			}
		}
		s.cur.Store(nil)
		in.forceKill()
		p.restarts.Add(1)
		if time.Since(started) > restartBackoffMax {
			backoff = restartBackoffMin
		}
		p.log.Error("plugin instance failed; restarting it", "instance", s.index, "err", in.err, "restart_in", backoff)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, restartBackoffMax)
			next, err := startInstance(ctx, launch, p.cfg, s.index, p.timeout, p.handlerTimeout, p.log)
			if err != nil {
				p.log.Error("plugin instance did not restart; trying again", "instance", s.index, "err", err, "retry_in", backoff)
				continue
			}
			if ctx.Err() != nil {
				next.fail(errors.New("the plugin host is shutting down"))
				next.forceKill()
				return
			}
			s.cur.Store(next)
			p.announceReady()
			break
		}
	}
}

// Shutdown stops every plugin process: gracefully until ctx ends, then by
// SIGKILL. Deliveries still in flight return errors. It is idempotent; the
// bus calls it last, after its dispatchers drained.
func (h *Host) Shutdown(ctx context.Context) error {
	h.shutdown.Do(func() {
		h.closed.Store(true)
		h.stopSupervisors()
		h.supervisors.Wait()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []error
		for _, p := range h.plugins {
			for _, s := range p.slots {
				in := s.cur.Load()
				if in == nil {
					continue
				}
				wg.Go(func() {
					if err := in.stop(ctx); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		h.shutdownErr = errors.Join(errs...)
		h.log.Info("plugins stopped")
	})
	return h.shutdownErr
}
