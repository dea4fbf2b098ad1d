package bus

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus/schedule"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
)

// persist writes a resource's spec to the store if the stored version is
// expected, and returns the new version.
func (b *Bus) persist(ctx context.Context, kind store.Kind, name string, spec any, expected int64) (int64, error) {
	raw, err := json.Marshal(withoutBookkeeping(spec))
	if err != nil {
		return 0, err
	}
	rec, err := b.store.Put(ctx, store.Record{Kind: kind, Name: name, Spec: raw}, expected)
	if err != nil {
		return 0, storeError(err, string(kind), name, expected)
	}
	return rec.Version, nil
}

// withoutBookkeeping drops the fields the bus sets itself, which the store
// keeps beside the spec.
func withoutBookkeeping(spec any) any {
	switch s := spec.(type) {
	case router.Route:
		s.Version, s.Origin = 0, ""
		return s
	case router.Bus:
		s.Version, s.Origin = 0, ""
		return s
	case schedule.Schedule:
		s.Version, s.LastFired, s.Next = 0, nil, nil
		return s
	}
	return spec
}

// storeError explains a failed store write to the API caller.
func storeError(err error, kind, name string, expected int64) error {
	switch {
	case errors.Is(err, store.ErrConflict) && expected == store.Absent:
		return errcode.Errorf(errcode.FailedPrecondition, "%s %q already exists", kind, name)
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound) && expected > 0:
		return errcode.Errorf(errcode.FailedPrecondition, "%s %q is no longer at version %d: someone changed it; read it again and reapply your change", kind, name, expected)
	}
	return errcode.Errorf(errcode.Unavailable, "saving %s %q: %w", kind, name, err)
}

// watchStore applies changes other replicas make to the shared store, as
// changes announces them, until ctx ends.
func (b *Bus) watchStore(ctx context.Context, changes <-chan struct{}) {
	defer close(b.watchDone)
	for range changes {
		if err := b.reconcile(ctx); err != nil && ctx.Err() == nil {
			b.log.Error("applying changes from the store; retrying at the next change", "err", err)
		}
	}
}

// listForReconcile reads the store and returns with b.mu held, the list
// no older than this replica's own writes: one made while the list was
// read (a route saved here) would otherwise be undone as gone. The store
// is read without the lock, so a slow store holds up nothing else; after
// a few lists overtaken by writes, it is read under the lock.
func (b *Bus) listForReconcile(ctx context.Context) ([]store.Record, error) {
	for range 3 {
		writes := b.store.writes.Load()
		recs, err := b.store.List(ctx)
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		if b.store.writes.Load() == writes {
			return recs, nil
		}
		b.mu.Unlock()
	}
	b.mu.Lock()
	recs, err := b.store.List(ctx)
	if err != nil {
		b.mu.Unlock()
		return nil, err
	}
	return recs, nil
}

// countedStore counts this replica's writes to its store of what
// reconcile applies, for listForReconcile: a replay's progress, written
// every second while it runs, is not counted.
type countedStore struct {
	store.Store
	writes atomic.Uint64
}

func (s *countedStore) Put(ctx context.Context, rec store.Record, expected int64) (store.Record, error) {
	defer s.count(rec.Kind)
	return s.Store.Put(ctx, rec, expected)
}

func (s *countedStore) Delete(ctx context.Context, kind store.Kind, name string, expected int64) error {
	defer s.count(kind)
	return s.Store.Delete(ctx, kind, name, expected)
}

func (s *countedStore) count(kind store.Kind) {
	if kind != KindReplay {
		s.writes.Add(1)
	}
}

// reconcile brings the live buses and routes of API origin in line with
// the store: what is newer there is applied, what is gone is removed.
// Resources from the config file win over stored ones of the same name.
func (b *Bus) reconcile(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	recs, err := b.listForReconcile(ctx)
	if err != nil {
		return err
	}
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	wantBuses, wantRoutes := map[string]router.Bus{}, map[string]router.Route{}
	var keys []auth.Key
	var errs []error
	for _, rec := range recs {
		switch rec.Kind {
		case store.KindBus:
			var bus router.Bus
			if err := json.Unmarshal(rec.Spec, &bus); err != nil {
				errs = append(errs, errors.New("stored bus "+rec.Name+": "+err.Error()))
				continue
			}
			bus.Version, bus.Origin = rec.Version, router.OriginAPI
			wantBuses[rec.Name] = bus
		case store.KindRoute:
			var r router.Route
			if err := json.Unmarshal(rec.Spec, &r); err != nil {
				errs = append(errs, errors.New("stored route "+rec.Name+": "+err.Error()))
				continue
			}
			r.Version, r.Origin = rec.Version, router.OriginAPI
			wantRoutes[rec.Name] = r
		case store.KindKey:
			k, err := keyFromRecord(rec)
			if err != nil {
				errs = append(errs, errors.New("stored key "+rec.Name+": "+err.Error()))
				continue
			}
			keys = append(keys, k)
		}
	}
	b.setStoredKeys(keys)
	errs = append(errs, b.reconcileSchemas(recs)...)
	errs = append(errs, b.reconcileSchedules(recs)...)
	for name, bus := range wantBuses {
		if cur, ok := b.buses[name]; !ok || (cur.Origin != router.OriginConfig && cur.Version != bus.Version) {
			b.setBus(bus)
		}
	}
	for name, lr := range b.routes {
		if _, ok := wantRoutes[name]; !ok && lr.route.Origin == router.OriginAPI {
			errs = append(errs, b.removeRoute(ctx, name, false))
		}
	}
	for name, r := range wantRoutes {
		cur, ok := b.routes[name]
		if ok && (cur.route.Origin == router.OriginConfig || cur.route.Version == r.Version) {
			continue
		}
		if _, _, err := b.applyRoute(ctx, r, nil); err != nil {
			errs = append(errs, errors.New("route "+name+": "+err.Error()))
		}
	}
	for name, bus := range b.buses {
		if _, ok := wantBuses[name]; !ok && bus.Origin == router.OriginAPI && len(b.routesOf(name)) == 0 {
			b.dropBus(name)
		}
	}
	return errors.Join(errs...)
}
