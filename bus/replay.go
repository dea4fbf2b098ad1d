package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// KindReplay is a replay's record in the store: its request and progress,
// which every replica reads and the replica running it updates.
const KindReplay store.Kind = "replay"

// The states of a replay.
const (
	ReplayRunning   = "running"
	ReplayDone      = "done"
	ReplayCancelled = "cancelled"
	// ReplayFailed: the archive or the route's channel failed; Error says
	// why and Position where it stopped.
	ReplayFailed = "failed"
	// ReplayInterrupted: the replica running it stopped (a shutdown, or
	// its lease ran out after a crash). Replays are not resumed: start a
	// new one from Position (that event may then be stored twice).
	ReplayInterrupted = "interrupted"
)

// DefaultReplayRate is the rate of a replay that names none.
const DefaultReplayRate = "1000/s"

// Replay progress is written to the store at least this often, and a
// running replay whose record is older than the lease is shown interrupted.
const (
	replayProgressEvery = time.Second
	replayLease         = 30 * time.Second
)

// ReplayPosition is a place in a bus's archive: a time, or a sequence
// number of the archive (1 is the first event ever archived).
type ReplayPosition struct {
	Time     *time.Time `json:"time,omitempty"`
	Sequence uint64     `json:"sequence,omitempty"`
}

// ReplayRequest asks for a replay of a route's bus archive into the route.
type ReplayRequest struct {
	// From is where the replay starts (required).
	From ReplayPosition `json:"from"`
	// Until, if set, is the last time or sequence replayed; without it the
	// replay ends with the last event archived when it started.
	Until *ReplayPosition `json:"until,omitempty"`
	// Rate caps the events stored on the route per second, minute or hour
	// ("500/s"); empty means DefaultReplayRate.
	Rate string `json:"rate,omitempty"`
}

// Replay is a replay and its progress, as GET /v1/routes/{name}/replays/{id}
// shows it.
type Replay struct {
	ID    string `json:"id"`
	Route string `json:"route"`
	Bus   string `json:"bus"`
	ReplayRequest
	State string `json:"state"`
	// Scanned counts the archived events read, Matched those the route's
	// rule selected, Delivered those stored on the route's channel (its
	// dispatcher then delivers them as any other event).
	Scanned   int64 `json:"scanned"`
	Matched   int64 `json:"matched"`
	Delivered int64 `json:"delivered"`
	// Position is the archive sequence of the last event scanned.
	Position uint64     `json:"position"`
	Error    string     `json:"error,omitempty"`
	Created  time.Time  `json:"created"`
	Updated  time.Time  `json:"updated"`
	Finished *time.Time `json:"finished,omitempty"`
}

// validate checks a request; the paths name its fields.
func (r *ReplayRequest) validate() error {
	var errs []error
	if err := r.From.validate("from"); err != nil {
		errs = append(errs, err)
	}
	if r.Until != nil {
		if err := r.Until.validate("until"); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := router.ParseRate(r.Rate); r.Rate != "" && err != nil {
		errs = append(errs, &spec.FieldError{Path: "rate", Message: err.Error()})
	}
	return errors.Join(errs...)
}

func (p *ReplayPosition) validate(path string) error {
	if (p.Time == nil) == (p.Sequence == 0) {
		return &spec.FieldError{Path: path, Message: `set exactly one of time (RFC 3339) and sequence (from 1)`}
	}
	return nil
}

func (p *ReplayPosition) archivePosition() adapters.ArchivePosition {
	if p.Time != nil {
		return adapters.ArchivePosition{Time: *p.Time}
	}
	return adapters.ArchivePosition{Sequence: p.Sequence}
}

// past reports whether an archived event lies after the position.
func (p *ReplayPosition) past(a adapters.Archived) bool {
	if p.Time != nil {
		return a.Time.After(*p.Time)
	}
	return a.Sequence > p.Sequence
}

// replays are the replays this replica runs, to cancel them and to stop
// them at shutdown.
type replays struct {
	mu      sync.Mutex
	running map[string]*runningReplay
	wg      sync.WaitGroup
}

// runningReplay is a replay this replica runs: cancel stops it, and done
// is closed once it recorded how it ended.
type runningReplay struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

func newReplays() *replays { return &replays{running: map[string]*runningReplay{}} }

// errReplayCancelled and errShutdown end a replay's run, as its cause.
var (
	errReplayCancelled = errors.New("replay cancelled")
	errShutdown        = errors.New("the bus replica running the replay shut down")
)

// StartReplay starts replaying the archive of route's bus into route, on
// this replica, and returns the replay as it starts. FailedPrecondition
// when the bus keeps no archive.
func (b *Bus) StartReplay(ctx context.Context, route string, req ReplayRequest) (Replay, error) {
	if err := req.validate(); err != nil {
		return Replay{}, err
	}
	lr, err := b.liveRoute(route)
	if err != nil {
		return Replay{}, err
	}
	return b.startReplay(ctx, lr.route, uuid.NewString(), req)
}

// archiveReader returns the archive of bus to replay from, or
// FailedPrecondition saying why there is none.
func (b *Bus) archiveReader(ctx context.Context, bus string) (adapters.Archiver, error) {
	br := b.state.Load().buses[bus]
	if br == nil || br.archive == nil {
		return nil, errArchiveOff(bus)
	}
	return br.archive.reader(ctx)
}

// startReplay records a replay of id into route and starts it. It takes no
// lock: PutRoute calls it holding b.mu.
func (b *Bus) startReplay(ctx context.Context, route router.Route, id string, req ReplayRequest) (Replay, error) {
	ar, err := b.archiveReader(ctx, route.Bus)
	if err != nil {
		return Replay{}, err
	}
	if req.Rate == "" {
		req.Rate = DefaultReplayRate
	}
	perSecond, _ := router.ParseRate(req.Rate) // validated
	now := time.Now().UTC()
	rp := Replay{ID: id, Route: route.Name, Bus: route.Bus, ReplayRequest: req, State: ReplayRunning, Created: now, Updated: now}
	version, err := b.saveReplay(ctx, &rp, store.Absent)
	if err != nil {
		return Replay{}, err
	}
	run := &replayRun{b: b, rp: rp, version: version, archive: ar,
		limit: rate.NewLimiter(rate.Limit(perSecond), 1)}
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	running := &runningReplay{cancel: cancel, done: make(chan struct{})}
	b.replays.mu.Lock()
	b.replays.running[id] = running
	b.replays.wg.Add(1)
	b.replays.mu.Unlock()
	go func() {
		defer b.replays.wg.Done()
		defer func() {
			b.replays.mu.Lock()
			delete(b.replays.running, id)
			b.replays.mu.Unlock()
			cancel(nil)
			close(running.done)
		}()
		run.run(runCtx)
	}()
	b.log.Info("replay started", "replay", id, "route", route.Name, "rate", req.Rate)
	return rp, nil
}

// startFrom starts the replay that a new route's start position asks for,
// up to the last event archived as it starts: the route receives later
// events from ingress. Its id is "<route>.start", so a config route that
// is applied again at every start, on a store that keeps records, replays
// once. The route is live already, so a failure is logged, not returned.
func (b *Bus) startFrom(ctx context.Context, r router.Route) {
	at, replays, _ := router.StartTime(r.Start) // validated
	if !replays {
		return
	}
	req := ReplayRequest{From: ReplayPosition{Sequence: 1}}
	if !at.IsZero() {
		req.From = ReplayPosition{Time: &at}
	}
	id := r.Name + ".start"
	if _, _, err := b.loadReplay(ctx, id); err == nil {
		return
	}
	if _, err := b.startReplay(ctx, r, id, req); err != nil {
		b.log.Error("starting the route from its start position", "route", r.Name, "start", r.Start, "err", err)
	}
}

// GetReplay returns one replay of route.
func (b *Bus) GetReplay(ctx context.Context, route, id string) (Replay, error) {
	rp, _, err := b.loadReplay(ctx, id)
	if err == nil && rp.Route != route {
		err = errcode.Errorf(errcode.NotFound, "route %q has no replay %q", route, id)
	}
	return rp, err
}

// Replays lists route's replays, newest first.
func (b *Bus) Replays(ctx context.Context, route string) ([]Replay, error) {
	recs, err := b.store.List(ctx)
	if err != nil {
		return nil, errcode.Errorf(errcode.Unavailable, "reading replays: %w", err)
	}
	out := []Replay{}
	for _, rec := range recs {
		if rec.Kind != KindReplay {
			continue
		}
		rp, err := replayOf(rec)
		if err != nil {
			return nil, err
		}
		if rp.Route == route {
			out = append(out, rp)
		}
	}
	slices.SortFunc(out, func(a, b Replay) int { return b.Created.Compare(a.Created) })
	return out, nil
}

// CancelReplay stops a running replay, on whichever replica runs it, and
// returns it as cancelled; a replay that already ended is returned as it
// is. Events already stored on the route stay there. When this replica
// runs the replay it returns once the replay stopped, with its final
// counts; another replica's replay stops at its next progress write
// (within about a second) and may store one more event meanwhile.
func (b *Bus) CancelReplay(ctx context.Context, route, id string) (Replay, error) {
	for {
		rp, version, err := b.loadReplay(ctx, id)
		if err != nil {
			return Replay{}, err
		}
		if rp.Route != route {
			return Replay{}, errcode.Errorf(errcode.NotFound, "route %q has no replay %q", route, id)
		}
		if rp.State != ReplayRunning {
			return rp, nil
		}
		now := time.Now().UTC()
		rp.State, rp.Updated, rp.Finished = ReplayCancelled, now, &now
		if _, err := b.saveReplay(ctx, &rp, version); err != nil {
			if errcode.Of(err) == errcode.FailedPrecondition {
				continue // its runner wrote progress meanwhile
			}
			return Replay{}, err
		}
		b.log.Info("replay cancelled", "replay", id, "route", route)
		b.replays.mu.Lock()
		running := b.replays.running[id]
		b.replays.mu.Unlock()
		if running == nil {
			return rp, nil // another replica runs it: it stops at its next write
		}
		// Here: wait for the runner to record its final counts.
		running.cancel(errReplayCancelled)
		select {
		case <-running.done:
		case <-ctx.Done():
			return rp, nil
		}
		final, _, err := b.loadReplay(ctx, id)
		if err != nil {
			return rp, nil
		}
		return final, nil
	}
}

// stopReplays interrupts the replays this replica runs and waits for them
// to record where they stopped.
func (r *replays) stop() {
	r.mu.Lock()
	for _, running := range r.running {
		running.cancel(errShutdown)
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// forgetReplays deletes the records of route's replays, when the route is
// deleted; its running replays then fail on their next write.
func (b *Bus) forgetReplays(ctx context.Context, route string) error {
	rps, err := b.Replays(ctx, route)
	if err != nil {
		return err
	}
	var errs []error
	for _, rp := range rps {
		if err := b.store.Delete(ctx, KindReplay, rp.ID, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (b *Bus) loadReplay(ctx context.Context, id string) (Replay, int64, error) {
	recs, err := b.store.List(ctx)
	if err != nil {
		return Replay{}, 0, errcode.Errorf(errcode.Unavailable, "reading replay %q: %w", id, err)
	}
	for _, rec := range recs {
		if rec.Kind == KindReplay && rec.Name == id {
			rp, err := replayOf(rec)
			return rp, rec.Version, err
		}
	}
	return Replay{}, 0, errcode.Errorf(errcode.NotFound, "replay %q does not exist", id)
}

// replayOf reads a stored replay; a running one whose runner has not
// written for longer than the lease is shown interrupted.
func replayOf(rec store.Record) (Replay, error) {
	var rp Replay
	if err := json.Unmarshal(rec.Spec, &rp); err != nil {
		return Replay{}, errcode.Errorf(errcode.Internal, "stored replay %s: %v", rec.Name, err)
	}
	if rp.State == ReplayRunning && time.Since(rp.Updated) > replayLease {
		rp.State, rp.Error = ReplayInterrupted, "no progress recorded since "+rp.Updated.Format(time.RFC3339)+": the replica running it stopped"
	}
	return rp, nil
}

func (b *Bus) saveReplay(ctx context.Context, rp *Replay, expected int64) (int64, error) {
	return b.persist(ctx, KindReplay, rp.ID, rp, expected)
}

// replayRun is one replay at work on this replica.
type replayRun struct {
	b       *Bus
	rp      Replay
	version int64
	archive adapters.Archiver
	limit   *rate.Limiter
	saved   time.Time
}

// run reads the archive and stores each matching event on the route until
// the end, a failure, a cancel or a shutdown, then records the outcome.
func (r *replayRun) run(ctx context.Context) {
	err := r.replay(ctx)
	now := time.Now().UTC()
	r.rp.Finished = &now
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errReplayCancelled), errors.Is(err, errReplayCancelled):
		r.rp.State = ReplayCancelled
	case errors.Is(cause, errShutdown):
		r.rp.State, r.rp.Error = ReplayInterrupted, errShutdown.Error()
	case err != nil:
		r.rp.State, r.rp.Error = ReplayFailed, err.Error()
	default:
		r.rp.State = ReplayDone
	}
	// The record must be written even though ctx has ended.
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.save(saveCtx); err != nil && !errors.Is(err, errReplayCancelled) {
		r.b.log.Error("recording the end of a replay", "replay", r.rp.ID, "route", r.rp.Route, "err", err)
	}
	r.b.log.Info("replay ended", "replay", r.rp.ID, "route", r.rp.Route, "state", r.rp.State,
		"scanned", r.rp.Scanned, "matched", r.rp.Matched, "delivered", r.rp.Delivered, "err", r.rp.Error)
}

func (r *replayRun) replay(ctx context.Context) error {
	r.saved = time.Now()
	for a, err := range r.archive.ReadArchive(ctx, r.rp.Bus, r.rp.From.archivePosition()) {
		if err != nil {
			return err
		}
		if r.rp.Until != nil && r.rp.Until.past(a) {
			return nil
		}
		if err := r.one(ctx, a); err != nil {
			return err
		}
		if err := r.saveIfDue(ctx); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// saveIfDue writes the progress when the last write is replayProgressEvery
// old.
func (r *replayRun) saveIfDue(ctx context.Context) error {
	if time.Since(r.saved) < replayProgressEvery {
		return nil
	}
	return r.save(ctx)
}

// one stores a on the route if the route's rule selects it.
func (r *replayRun) one(ctx context.Context, a adapters.Archived) error {
	r.rp.Scanned++
	r.rp.Position = a.Sequence
	br := r.b.state.Load().buses[r.rp.Bus]
	var lr *liveRoute
	if br != nil {
		lr = br.routes[r.rp.Route]
	}
	if lr == nil {
		return errcode.Errorf(errcode.NotFound, "route %q was deleted", r.rp.Route)
	}
	e, err := adapters.Decode(strconv.FormatUint(a.Sequence, 10), a.Body, a.Metadata)
	if err != nil {
		return fmt.Errorf("archived event %d: %w", a.Sequence, err)
	}
	if !slices.Contains(br.matcher.Match(router.NewEvent(e)), r.rp.Route) {
		return nil
	}
	r.rp.Matched++
	e.SetExtension(adapters.ExtReplay, r.rp.ID)
	stamp, err := routeStamp(e, adapters.Stamp{AcceptedAt: time.Now()}, &lr.route)
	if err != nil {
		return fmt.Errorf("archived event %d: %w", a.Sequence, err)
	}
	// Waits for the rate and for room record progress as they go, so a
	// slow replay is not taken for an interrupted one.
	for delay := r.limit.Reserve().Delay(); delay > 0; delay -= replayProgressEvery {
		t := time.NewTimer(min(delay, replayProgressEvery))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if err := r.saveIfDue(ctx); err != nil {
			return err
		}
	}
	// A full route makes the replay wait, never overflow.
	for !lr.admission.acquire(ctx, replayProgressEvery) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.saveIfDue(ctx); err != nil {
			return err
		}
	}
	if err := lr.channel.SendEvent(ctx, e, stamp); err != nil {
		lr.admission.Release()
		return fmt.Errorf("route %s: %w", r.rp.Route, err)
	}
	lr.stats.Accepted.Add(1)
	r.rp.Delivered++
	return nil
}

// save writes the progress; when someone else changed the record (a
// cancel, on any replica) it keeps their state and adds the progress.
func (r *replayRun) save(ctx context.Context) error {
	for {
		r.rp.Updated = time.Now().UTC()
		v, err := r.b.saveReplay(ctx, &r.rp, r.version)
		if err == nil {
			r.version, r.saved = v, time.Now()
			return nil
		}
		if errcode.Of(err) != errcode.FailedPrecondition {
			return err
		}
		stored, version, err := r.b.loadReplay(ctx, r.rp.ID)
		if err != nil {
			return err
		}
		r.version = version
		if stored.State == ReplayCancelled {
			r.rp.State, r.rp.Finished = ReplayCancelled, stored.Finished
			if v, err := r.b.saveReplay(ctx, &r.rp, r.version); err == nil {
				r.version = v
			}
			return errReplayCancelled
		}
	}
}
