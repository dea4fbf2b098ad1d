package bus

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus/schedule"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
)

// scheduleTick is how often the bus looks for schedules that are due; a
// firing is emitted within about this long after its time.
const scheduleTick = time.Second

// liveSchedule is a schedule with its plan and the firing last claimed in
// the store (its record's version; 0 while none is stored).
type liveSchedule struct {
	spec         schedule.Schedule
	plan         *schedule.Plan
	fired        time.Time
	firedVersion int64
}

// last is when the schedule last fired, or was created if it has not:
// firings are due after it.
func (l *liveSchedule) last() time.Time {
	if l.fired.After(l.spec.CreatedAt) {
		return l.fired
	}
	return l.spec.CreatedAt
}

// firedRecord is the spec of a store.KindScheduleFired record.
type firedRecord struct {
	FiredAt time.Time `json:"fired_at"`
}

// now is the clock schedules fire by.
func (b *Bus) now() time.Time {
	if b.cfg.Clock != nil {
		return b.cfg.Clock()
	}
	return time.Now()
}

// PutSchedule creates or replaces a schedule; expected works as in PutRoute.
func (b *Bus) PutSchedule(ctx context.Context, s schedule.Schedule, expected int64) (schedule.Schedule, bool, error) {
	s.Bus = cmp.Or(s.Bus, router.DefaultBus)
	plan, err := schedule.Compile(s)
	if err != nil {
		return schedule.Schedule{}, false, err
	}
	if expected == store.AnyVersion && s.Version > 0 {
		expected = s.Version
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.buses[s.Bus]; !ok {
		return schedule.Schedule{}, false, errcode.Errorf(errcode.InvalidArgument, "bus: %q does not exist: create it first", s.Bus)
	}
	old, exists := b.schedules[s.Name]
	s.CreatedAt = b.now().UTC()
	if exists {
		s.CreatedAt = old.spec.CreatedAt
	}
	v, err := b.persist(ctx, store.KindSchedule, s.Name, s, expected)
	if err != nil {
		return schedule.Schedule{}, false, err
	}
	s.Version = v
	live := &liveSchedule{spec: s, plan: plan}
	if exists {
		live.fired, live.firedVersion = old.fired, old.firedVersion
	}
	b.schedules[s.Name] = live
	return b.showSchedule(live), !exists, nil
}

// DeleteSchedule removes a schedule; expected works as in DeleteRoute.
func (b *Bus) DeleteSchedule(ctx context.Context, name string, expected int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.schedules[name]; !ok {
		return errcode.Errorf(errcode.NotFound, "schedule %q does not exist", name)
	}
	if err := b.store.Delete(ctx, store.KindSchedule, name, expected); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeError(err, "schedule", name, expected)
	}
	if err := b.store.Delete(ctx, store.KindScheduleFired, name, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeError(err, "schedule", name, store.AnyVersion)
	}
	delete(b.schedules, name)
	return nil
}

// Schedules returns every schedule, sorted by name.
func (b *Bus) Schedules() []schedule.Schedule {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]schedule.Schedule, 0, len(b.schedules))
	for _, name := range slices.Sorted(maps.Keys(b.schedules)) {
		out = append(out, b.showSchedule(b.schedules[name]))
	}
	return out
}

// ScheduleNamed returns one schedule.
func (b *Bus) ScheduleNamed(name string) (schedule.Schedule, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	live, ok := b.schedules[name]
	if !ok {
		return schedule.Schedule{}, false
	}
	return b.showSchedule(live), true
}

// AllowSchedule decides whether the caller in ctx may save s: it takes
// manage on the bus s emits to (and on the one it emitted to before), and
// the right to emit its event there, since the schedule emits on the
// caller's behalf.
func (b *Bus) AllowSchedule(ctx context.Context, s schedule.Schedule) error {
	if b.access == nil {
		return nil
	}
	bus := cmp.Or(s.Bus, router.DefaultBus)
	if old, ok := b.ScheduleNamed(s.Name); ok {
		if err := b.Allow(ctx, old.Bus, auth.Manage); err != nil {
			return err
		}
	}
	if err := b.Allow(ctx, bus, auth.Manage); err != nil {
		return err
	}
	caller := auth.FromContext(ctx)
	if caller == nil {
		return nil
	}
	return b.access.policy.AllowEvent(caller, bus, b.aclOf(bus), s.Event.Type, cmp.Or(s.Event.Source, "/schedules/"+s.Name))
}

// AllowOnSchedule decides whether the caller in ctx may take action on the
// bus of schedule name; a schedule that does not exist is left for the
// caller to report.
func (b *Bus) AllowOnSchedule(ctx context.Context, name string, action auth.Action) error {
	if b.access == nil {
		return nil
	}
	s, ok := b.ScheduleNamed(name)
	if !ok {
		return nil
	}
	return b.Allow(ctx, s.Bus, action)
}

// showSchedule is live as the API shows it. b.mu must be held.
func (b *Bus) showSchedule(live *liveSchedule) schedule.Schedule {
	s := live.spec
	if !live.fired.IsZero() {
		fired := live.fired
		s.LastFired = &fired
	}
	if next := live.plan.Next(live.last()); !next.IsZero() {
		s.Next = &next
	}
	return s
}

// reconcileSchedules brings the schedules and their last firings in line
// with the store's records. b.mu must be held.
func (b *Bus) reconcileSchedules(recs []store.Record) []error {
	var errs []error
	specs := map[string]store.Record{}
	fired := map[string]store.Record{}
	for _, rec := range recs {
		switch rec.Kind {
		case store.KindSchedule:
			specs[rec.Name] = rec
		case store.KindScheduleFired:
			fired[rec.Name] = rec
		}
	}
	for name := range b.schedules {
		if _, ok := specs[name]; !ok {
			delete(b.schedules, name)
		}
	}
	for name, rec := range specs {
		live := b.schedules[name]
		if live == nil || live.spec.Version != rec.Version {
			var s schedule.Schedule
			if err := json.Unmarshal(rec.Spec, &s); err != nil {
				errs = append(errs, fmt.Errorf("stored schedule %s: %w", name, err))
				continue
			}
			s.Version = rec.Version
			plan, err := schedule.Compile(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("stored schedule %s: %w", name, err))
				continue
			}
			next := &liveSchedule{spec: s, plan: plan}
			if live != nil {
				next.fired, next.firedVersion = live.fired, live.firedVersion
			}
			live = next
			b.schedules[name] = live
		}
		f, ok := fired[name]
		if !ok {
			// No firing stored (or a claim undone): fire from the start.
			live.fired, live.firedVersion = time.Time{}, 0
			continue
		}
		if f.Version == live.firedVersion {
			continue
		}
		var fr firedRecord
		if err := json.Unmarshal(f.Spec, &fr); err != nil {
			errs = append(errs, fmt.Errorf("stored firing of schedule %s: %w", name, err))
			continue
		}
		live.fired, live.firedVersion = fr.FiredAt, f.Version
	}
	return errs
}

// runSchedules fires the schedules that are due every scheduleTick until
// ctx ends.
func (b *Bus) runSchedules(ctx context.Context) {
	defer close(b.schedulesDone)
	tick := time.NewTicker(scheduleTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			b.fireDue(ctx)
		}
	}
}

// firing is one due firing of a schedule, and the store version of the
// firing before it.
type firing struct {
	spec         schedule.Schedule
	at           time.Time
	firedVersion int64
	before       time.Time
}

// fireDue emits every firing that is due, each once across the replicas
// sharing the store: a replica emits only after its compare-and-set of
// the schedule's last firing won. If the emit fails, the claim is undone
// so that a later tick (of any replica) tries again.
func (b *Bus) fireDue(ctx context.Context) {
	now := b.now()
	var due []firing
	b.mu.Lock()
	for _, live := range b.schedules {
		if at, ok := live.plan.Due(live.last(), now); ok {
			due = append(due, firing{spec: live.spec, at: at, firedVersion: live.firedVersion, before: live.fired})
		}
	}
	b.mu.Unlock()
	for _, f := range due {
		b.fire(ctx, f)
	}
}

func (b *Bus) fire(ctx context.Context, f firing) {
	name := f.spec.Name
	claimed, err := b.putFired(ctx, name, f.at, f.firedVersion)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return // another replica fired it; the store will tell us
	}
	if err != nil {
		b.log.Error("claiming a schedule's firing in the store; retrying at the next tick", "schedule", name, "err", err)
		return
	}
	b.setFired(name, f.at, claimed)
	// The firing is claimed: emitting it, or undoing the claim, must not be
	// cut short by a shutdown, or no replica would ever emit it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	e, err := schedule.Event(f.spec, f.at)
	if err == nil {
		err = b.emitScheduled(ctx, f.spec.Bus, e)
	}
	if err == nil {
		return
	}
	b.log.Error("emitting a schedule's event; the firing will be retried", "schedule", name, "fired_at", f.at, "err", err)
	// Undo the claim, unless someone changed it since, and fire from the
	// firing before it again.
	var undone int64
	if f.firedVersion == 0 {
		err = b.store.Delete(ctx, store.KindScheduleFired, name, claimed)
	} else {
		undone, err = b.putFired(ctx, name, f.before, claimed)
	}
	if err != nil {
		b.log.Error("undoing a schedule's claim after a failed emit: the firing is lost", "schedule", name, "fired_at", f.at, "err", err)
		return
	}
	b.mu.Lock()
	if live := b.schedules[name]; live != nil && live.firedVersion == claimed {
		live.fired, live.firedVersion = f.before, undone
	}
	b.mu.Unlock()
}

// putFired stores at as the last firing of schedule name if the stored
// version is expected (0: none stored), and returns the new version.
func (b *Bus) putFired(ctx context.Context, name string, at time.Time, expected int64) (int64, error) {
	raw, err := json.Marshal(firedRecord{FiredAt: at.UTC()})
	if err != nil {
		return 0, err
	}
	rec, err := b.store.Put(ctx, store.Record{Kind: store.KindScheduleFired, Name: name, Spec: raw}, expected)
	return rec.Version, err
}

// setFired records a firing this replica claimed.
func (b *Bus) setFired(name string, at time.Time, version int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if live := b.schedules[name]; live != nil && version > live.firedVersion {
		live.fired, live.firedVersion = at, version
	}
}

// emitScheduled stores a schedule's event on bus, as ingress would.
func (b *Bus) emitScheduled(ctx context.Context, bus string, e *event.Event) error {
	results, err := b.Ingest(ctx, bus, []*event.Event{e})
	if err != nil {
		return err
	}
	return results[0].Err
}
