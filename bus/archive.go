package bus

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
)

// archives holds each bus's archive handle, so that ingress finds it in the
// routing snapshot without a lock and a bus change that keeps the same
// backend and limits keeps the handle.
type archives struct {
	backends       *adapters.Registry
	defaultBackend string

	mu    sync.Mutex
	byBus map[string]*busArchive
}

func newArchives(backends *adapters.Registry, defaultBackend string) *archives {
	return &archives{backends: backends, defaultBackend: defaultBackend, byBus: map[string]*busArchive{}}
}

// of returns bus's archive, nil when the bus turned it off.
func (as *archives) of(bus router.Bus) *busArchive {
	limits := bus.Archive.WithDefaults()
	if limits.Off {
		return nil
	}
	backend := cmp.Or(bus.Backend, as.defaultBackend)
	as.mu.Lock()
	defer as.mu.Unlock()
	if a := as.byBus[bus.Name]; a != nil && a.backend == backend && a.limits == limits {
		return a
	}
	a := &busArchive{registry: as.backends, bus: bus.Name, backend: backend, limits: limits}
	as.byBus[bus.Name] = a
	return a
}

// busArchive is one bus's archive on its backend, made on first use.
type busArchive struct {
	registry *adapters.Registry
	bus      string
	backend  string
	limits   router.Archive

	mu     sync.Mutex             // held while opening
	opened atomic.Pointer[opened] // set once the archive is open
	// failed is the last error opening it, answered without trying again
	// until retryOpenAfter has passed since failedAt: while the backend
	// is down, ingress does not queue one attempt per event.
	failed   error
	failedAt time.Time
}

// retryOpenAfter is how long an archive that could not be opened answers
// with that error before it is tried again.
const retryOpenAfter = time.Second

// opened is what opening an archive found.
type opened struct {
	archiver adapters.Archiver // nil when the backend cannot hold an archive
}

// holds reports whether a may hold events: true until opening it found a
// backend that cannot, so that ingress on such a bus does nothing more.
func (a *busArchive) holds() bool {
	o := a.opened.Load()
	return o == nil || o.archiver != nil
}

// open makes sure the archive exists with its limits, once; a backend
// error is tried again after retryOpenAfter. It returns nil for a backend
// that cannot hold an archive.
func (a *busArchive) open(ctx context.Context) (adapters.Archiver, error) {
	if o := a.opened.Load(); o != nil {
		return o.archiver, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if o := a.opened.Load(); o != nil {
		return o.archiver, nil
	}
	if a.failed != nil && time.Since(a.failedAt) < retryOpenAfter {
		return nil, a.failed
	}
	ar, err := a.openLocked(ctx)
	if err != nil {
		a.failed, a.failedAt = err, time.Now()
		return nil, err
	}
	a.failed = nil
	a.opened.Store(&opened{archiver: ar})
	return ar, nil
}

// openLocked opens the archive on its backend: nil for a backend that
// cannot hold one. a.mu must be held.
func (a *busArchive) openLocked(ctx context.Context) (adapters.Archiver, error) {
	be, err := a.registry.Open(ctx, a.backend)
	if err != nil {
		return nil, err
	}
	if !be.Capabilities().Archive {
		return nil, nil
	}
	ar, err := be.Archiver()
	if err != nil {
		return nil, err
	}
	limits := adapters.ArchiveLimits{MaxAge: time.Duration(a.limits.MaxAge), MaxBytes: a.limits.MaxBytes}
	if err := ar.EnsureArchive(ctx, a.bus, limits); err != nil {
		return nil, fmt.Errorf("bus %s: %w", a.bus, err)
	}
	return ar, nil
}

// append archives one accepted event; it does nothing on a backend that
// cannot hold an archive.
func (a *busArchive) append(ctx context.Context, m *adapters.Message) error {
	ar, err := a.open(ctx)
	if err != nil || ar == nil {
		return err
	}
	if err := ar.AppendArchive(ctx, a.bus, m); err != nil {
		return fmt.Errorf("archive of bus %s: %w", a.bus, err)
	}
	return nil
}

// reader returns the archive to replay from, or FailedPrecondition saying
// why the bus has none.
func (a *busArchive) reader(ctx context.Context) (adapters.Archiver, error) {
	ar, err := a.open(ctx)
	if err != nil {
		return nil, err
	}
	if ar == nil {
		return nil, errcode.Errorf(errcode.FailedPrecondition, "bus %q keeps no archive: its backend %s cannot hold one; give the bus a nats+embedded:// or nats:// backend (eventbus serve's default is nats+embedded://)", a.bus, adapters.Redact(a.backend))
	}
	return ar, nil
}

// errArchiveOff refuses a replay on a bus whose archive is off.
func errArchiveOff(bus string) error {
	return errcode.Errorf(errcode.FailedPrecondition, "bus %q keeps no archive (archive: off): turn it on with PUT /v1/buses/%s and {\"archive\": {}}, then replay what is archived from then on", bus, bus)
}
