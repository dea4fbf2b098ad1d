// Command bench measures eventbus side by side with its peers: programs
// that do the same work with less (a bare net/http handler, a raw broker
// client, …). Run it with
//
//	go run ./bench                      # every scenario, 5 rounds of 10 s
//	go run ./bench --quick              # every scenario in under a minute (3 rounds: a first look)
//	go run ./bench --scenario ingress --rounds 7 --duration 20s
//
// A scenario is one kind of work (ingress: accept one CloudEvent over HTTP)
// and its contenders: eventbus first, then its peers. Each contender runs as
// a separate child process, a fresh one for every measured window, so that
// its CPU time can be read from /proc and the load generator (this process)
// is not counted. A window is preceded by a short warm-up that is not
// measured. Contenders take turns: round r starts with contender r mod n, so
// each is measured early and late in the run and slow drift on a noisy
// machine falls on all of them alike.
//
// The load generator runs a fixed number of workers, each with its own
// keep-alive connection and one request in flight at a time, until the
// window ends; only 127.0.0.1 is ever a target. Its client and its webhooks
// are fasthttp's (load.go), which spends about half of what net/http does
// on a request: what the load generator spends on an event is taken from
// the contender it measures. Where two contenders' loads cost the same, it
// hides their difference; where they differ (a batch against single
// requests), the cheaper load counts as its contender's gain.
//
// How to read a table: one line per contender, each cell the median over the
// rounds with the spread (min–max) in brackets.
//
//	events/s      operations completed per second of the window
//	p50, p99      latency of one operation as the worker saw it; in a
//	              scenario at a fixed rate (an open loop), from when the
//	              operation was due, so a stall is charged to every
//	              operation due during it (no coordinated omission).
//	              Each worker takes its next operation when free and sleeps
//	              until it is due on a kernel timer of its own: a Go timer
//	              would start operations up to a millisecond late, and a
//	              pacer handing out due times a tenth of one, and charge
//	              that to the contender
//	ingress p50, p99
//	              in end-to-end scenarios that report it, the latency
//	              until the contender answered 202
//	CPU µs/event  user+system CPU of the contender's process during the
//	              window, divided by the operations done (the /proc clock
//	              ticks at 100 Hz: windows of seconds make that precise)
//	errors        failed operations in all rounds; any error makes a
//	              figure suspect
//
// While it runs, a line per window gives the same figures, how late the
// workers of an open loop sent operations ("sent late": the load
// generator's own share of every latency), and the CPU the load generator
// itself spent per event (this process: clients, the webhooks of
// end-to-end scenarios, and the plugin scenario's host). It
// shares the machine with the contender, so a contender whose load costs
// less to generate gets more of the machine. A contender that runs in
// this process has no such figure.
//
// Under it, one line per peer compares eventbus with that peer: the ratio
// eventbus/peer of throughput (above 1: eventbus is faster) and of CPU per
// event (above 1: eventbus spends more), computed per round — the two ran
// back to back — then the median and spread over rounds. The run ends with
// one line per scenario, "ratio <scenario> <value>", the median throughput
// ratio of eventbus over its first peer, for scripts to read.
//
// The machines this runs on are small and shared; read ratios, not absolute
// figures, and a spread wider than the difference you look for means "no
// difference measured". docs/performance.md has the figures measured.
package main
