package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runOptions say how long and how often each contender is measured.
type runOptions struct {
	rounds   int
	duration time.Duration // of one measured window
	// cpuProfile, if set, is the prefix of the CPU profile files the
	// contenders write: <prefix>.<scenario>.<contender>, each overwritten
	// every round, so the last round's is kept.
	cpuProfile string
}

// warmup is the unmeasured load before each window: enough to open every
// connection and let the server's heap settle, at most a second.
func (o runOptions) warmup() time.Duration { return min(o.duration/4, time.Second) }

// window is what one contender did in one measured window.
type window struct {
	ops      int
	errs     int
	firstErr error
	elapsed  time.Duration
	p50, p99 time.Duration
	// ingressP50 and ingressP99 are the latencies until the contender
	// accepted each event, for a contender that reports them (else zero).
	ingressP50, ingressP99 time.Duration
	// lateP50 and lateP99, in an open loop, are how late the load
	// generator started operations: from when each was due until a worker
	// sent it. They are part of every latency; high figures mean the
	// generator, not the contender, fell behind (all workers busy, or the
	// machine too loaded to wake them on time).
	lateP50, lateP99 time.Duration
	cpu              time.Duration // the contender process's user+system time
	// loadCPU is this process's: the load generator's, and the webhooks'
	// of scenarios that serve them here. On a machine the two share, a
	// ratio between contenders whose load differs in cost moves with it.
	// Zero for a contender that runs in this process (its cpu is this
	// process's too).
	loadCPU time.Duration
}

func (w window) throughput() float64 { return float64(w.ops) / w.elapsed.Seconds() }

// cpuPerOp and loadCPUPerOp are in microseconds.
func (w window) cpuPerOp() float64     { return w.perOp(w.cpu) }
func (w window) loadCPUPerOp() float64 { return w.perOp(w.loadCPU) }

func (w window) perOp(d time.Duration) float64 {
	if w.ops == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(w.ops)
}

// result holds a scenario's windows: windows[c][r] is contender c in round r.
type result struct {
	scenario Scenario
	opts     runOptions
	windows  [][]window
}

// runScenario measures every contender opts.rounds times, taking turns:
// round r starts with contender r mod n. progress gets a line per window.
func runScenario(ctx context.Context, s Scenario, opts runOptions, progress io.Writer) (result, error) {
	res := result{scenario: s, opts: opts, windows: make([][]window, len(s.Contenders))}
	n := len(s.Contenders)
	for r := range opts.rounds {
		for i := range n {
			c := (r + i) % n
			name := s.Contenders[c].Name
			w, err := measure(ctx, s, s.Contenders[c], opts)
			if err != nil {
				return res, fmt.Errorf("scenario %s, round %d, %s: %w", s.Name, r+1, name, err)
			}
			load := ""
			if w.loadCPU > 0 {
				load = fmt.Sprintf(" (load generator %.1f)", w.loadCPUPerOp())
			}
			if s.Rate > 0 {
				load += fmt.Sprintf("  sent late p50 %s p99 %s", ms(w.lateP50), ms(w.lateP99))
			}
			fmt.Fprintf(progress, "  %s round %d/%d %-10s %9.0f events/s  p50 %s  p99 %s  %.1f µs CPU/event%s  %d errors\n",
				s.Name, r+1, opts.rounds, name, w.throughput(), ms(w.p50), ms(w.p99), w.cpuPerOp(), load, w.errs)
			res.windows[c] = append(res.windows[c], w)
		}
	}
	return res, nil
}

// measure starts a fresh instance of c, warms it up and measures one window.
func measure(ctx context.Context, s Scenario, c Contender, opts runOptions) (_ window, err error) {
	var start StartOptions
	if opts.cpuProfile != "" {
		start.CPUProfile = opts.cpuProfile + "." + s.Name + "." + c.Name
	}
	inst, err := c.Start(ctx, start)
	if err != nil {
		return window{}, err
	}
	defer func() {
		if serr := inst.Stop(); serr != nil {
			err = errors.Join(err, fmt.Errorf("stopping: %w", serr))
		}
	}()
	load(ctx, stagedOf(inst), s.Workers, s.Rate, opts.warmup())
	before, err := cpuTime(inst.PID)
	if err != nil {
		return window{}, err
	}
	loadBefore, err := cpuTime(os.Getpid())
	if err != nil {
		return window{}, err
	}
	w := load(ctx, stagedOf(inst), s.Workers, s.Rate, opts.duration)
	after, err := cpuTime(inst.PID)
	if err != nil {
		return window{}, err
	}
	loadAfter, err := cpuTime(os.Getpid())
	if err != nil {
		return window{}, err
	}
	w.cpu = after - before
	if inst.PID != os.Getpid() {
		w.loadCPU = loadAfter - loadBefore
	}
	w.ops *= max(inst.EventsPerOp, 1) // latencies stay per operation
	return w, ctx.Err()
}

// stagedOp is an operation that reports when the contender accepted it;
// the zero time if it does not say.
type stagedOp func(ctx context.Context) (accepted time.Time, err error)

// stagedOf returns inst's operation as a stagedOp.
func stagedOf(inst *Instance) stagedOp {
	if inst.Staged != nil {
		return inst.Staged
	}
	return func(ctx context.Context) (time.Time, error) { return time.Time{}, inst.Op(ctx) }
}

// load runs op from the given number of workers, each one at a time, until
// d has passed; an operation under way then completes and counts. With a
// rate, operations are due at fixed times (see Scenario.Rate and
// openLoop) and their latency counts from then.
func load(ctx context.Context, op stagedOp, workers, rate int, d time.Duration) window {
	type tally struct {
		latencies, ingress, late []time.Duration
		errs                     int
		firstErr                 error
	}
	tallies := make([]tally, workers)
	var alarms []*alarm // each worker's, in an open loop
	if rate > 0 {
		alarms = make([]*alarm, workers)
		for i := range alarms {
			a, err := newAlarm()
			if err != nil {
				return window{errs: 1, firstErr: err}
			}
			defer a.Close()
			alarms[i] = a
		}
	}
	begin := time.Now()
	end := begin.Add(d)
	// next returns when worker's next operation is due, and false when
	// the window has ended.
	next := func(int) (time.Time, bool) {
		t0 := time.Now()
		return t0, t0.Before(end) && ctx.Err() == nil
	}
	if rate > 0 {
		loop := &openLoop{begin: begin, end: end, rate: rate}
		next = func(worker int) (time.Time, bool) {
			due, ok := loop.take()
			return due, ok && alarms[worker].sleepUntil(ctx, due)
		}
	}
	var wg sync.WaitGroup
	for i := range tallies {
		t := &tallies[i]
		wg.Go(func() {
			for {
				t0, ok := next(i)
				if !ok {
					return
				}
				if rate > 0 {
					t.late = append(t.late, time.Since(t0))
				}
				accepted, err := op(ctx)
				if err != nil {
					t.errs++
					if t.firstErr == nil {
						t.firstErr = err
					}
					continue
				}
				t.latencies = append(t.latencies, time.Since(t0))
				if !accepted.IsZero() {
					t.ingress = append(t.ingress, accepted.Sub(t0))
				}
			}
		})
	}
	wg.Wait()
	w := window{elapsed: time.Since(begin)}
	var all, ingress, late []time.Duration
	for _, t := range tallies {
		all = append(all, t.latencies...)
		ingress = append(ingress, t.ingress...)
		late = append(late, t.late...)
		w.errs += t.errs
		if w.firstErr == nil {
			w.firstErr = t.firstErr
		}
	}
	w.ops = len(all)
	w.p50, w.p99 = percentiles(all)
	w.ingressP50, w.ingressP99 = percentiles(ingress)
	w.lateP50, w.lateP99 = percentiles(late)
	return w
}

// percentiles returns the 50th and 99th percentiles of ds, which it sorts;
// zeros if it is empty.
func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[len(ds)*50/100], ds[len(ds)*99/100]
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, which
// Linux fixes at 100 for user space.
const userHZ = 100

// cpuTime returns the user+system CPU time a process has used so far, all
// its threads together.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count fields from after its closing parenthesis, where field 3 begins.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("/proc/%d/stat has %d fields after the name, want more than %d", pid, len(fields), stime)
	}
	var ticks int64
	for _, f := range []string{fields[utime], fields[stime]} {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: CPU time %q: %w", pid, f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) + "ms"
}
