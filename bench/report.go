package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// spread is the median and range of one figure over the rounds.
type spread struct{ median, min, max float64 }

func spreadOf(values []float64) spread {
	v := slices.Sorted(slices.Values(values))
	n := len(v)
	median := v[n/2]
	if n%2 == 0 {
		median = (v[n/2-1] + v[n/2]) / 2
	}
	return spread{median: median, min: v[0], max: v[n-1]}
}

// format prints the spread with the given number of decimals.
func (s spread) format(decimals int) string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', decimals, 64) }
	return fmt.Sprintf("%s (%s–%s)", f(s.median), f(s.min), f(s.max))
}

// figure returns one figure of contender c over the rounds.
func (r result) figure(c int, of func(window) float64) []float64 {
	out := make([]float64, len(r.windows[c]))
	for i, w := range r.windows[c] {
		out[i] = of(w)
	}
	return out
}

// ratio returns, per round, contender a's figure over contender b's.
func (r result) ratio(a, b int, of func(window) float64) []float64 {
	out := make([]float64, len(r.windows[a]))
	for i := range out {
		out[i] = of(r.windows[a][i]) / of(r.windows[b][i])
	}
	return out
}

// throughputRatio is the median ratio eventbus/first peer of events/s.
func (r result) throughputRatio() float64 {
	return spreadOf(r.ratio(0, 1, window.throughput)).median
}

// staged reports whether the scenario's contenders report ingress
// latency (see Instance.Staged): then its table shows it.
func (r result) staged() bool {
	for _, ws := range r.windows {
		for _, w := range ws {
			if w.ingressP99 > 0 {
				return true
			}
		}
	}
	return false
}

// writeTable prints the scenario's table: a line per contender, then the
// ratios of eventbus over each peer.
func (r result) writeTable(out io.Writer) {
	s := r.scenario
	fmt.Fprintf(out, "\n%s: %s\n", s.Name, s.About)
	fmt.Fprintf(out, "%d workers, %d rounds of %s (after %s warm-up); median (min–max) over rounds\n\n",
		s.Workers, r.opts.rounds, r.opts.duration, r.opts.warmup())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	staged := r.staged()
	ingress := ""
	if staged {
		ingress = "ingress p50 ms\tingress p99 ms\t"
	}
	fmt.Fprintf(tw, "contender\tevents/s\tp50 ms\tp99 ms\t%sCPU µs/event\terrors\n", ingress)
	millis := func(of func(window) time.Duration) func(window) float64 {
		return func(w window) float64 { return float64(of(w).Microseconds()) / 1000 }
	}
	for c, con := range s.Contenders {
		errs := 0
		for _, w := range r.windows[c] {
			errs += w.errs
		}
		ingress := ""
		if staged {
			ingress = spreadOf(r.figure(c, millis(func(w window) time.Duration { return w.ingressP50 }))).format(2) + "\t" +
				spreadOf(r.figure(c, millis(func(w window) time.Duration { return w.ingressP99 }))).format(2) + "\t"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s%s\t%d\n", con.Name,
			spreadOf(r.figure(c, window.throughput)).format(0),
			spreadOf(r.figure(c, millis(func(w window) time.Duration { return w.p50 }))).format(2),
			spreadOf(r.figure(c, millis(func(w window) time.Duration { return w.p99 }))).format(2),
			ingress,
			spreadOf(r.figure(c, window.cpuPerOp)).format(1),
			errs)
	}
	_ = tw.Flush()
	fmt.Fprintln(out)
	for c := 1; c < len(s.Contenders); c++ {
		fmt.Fprintf(out, "%s/%s: throughput %s, CPU per event %s\n",
			s.Contenders[0].Name, s.Contenders[c].Name,
			spreadOf(r.ratio(0, c, window.throughput)).format(2),
			spreadOf(r.ratio(0, c, window.cpuPerOp)).format(2))
	}
	for _, ab := range s.Compare {
		a, b := ab[0], ab[1]
		fmt.Fprintf(out, "%s/%s: throughput %s, CPU per event %s\n",
			s.Contenders[a].Name, s.Contenders[b].Name,
			spreadOf(r.ratio(a, b, window.throughput)).format(2),
			spreadOf(r.ratio(a, b, window.cpuPerOp)).format(2))
	}
	for c, con := range s.Contenders {
		for i, w := range r.windows[c] {
			if w.firstErr != nil {
				fmt.Fprintf(out, "%s round %d: %d errors, the first: %v\n", con.Name, i+1, w.errs, w.firstErr)
			}
		}
	}
}
