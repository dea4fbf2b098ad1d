//go:build netns

// Package replicas runs the bus as several replicas on one machine, each in
// a network namespace of its own, on one RabbitMQ, one NATS JetStream and
// one PostgreSQL store, and proves that they share the work and survive
// each other.
//
// The test builds ./cmd/eventbus and starts three replicas (`eventbus
// serve` in namespaces joined by veth pairs to a bridge on the host). The
// brokers and PostgreSQL listen on the host's loopback, so the replicas
// reach them through TCP relays on the bridge's address (forward); every
// byte a replica exchanges crosses its veth. Routes are created through one
// replica and live on all of them through the shared store (a database of
// the run's own).
//
// Throughput: a route on RabbitMQ without ordering takes rounds of events
// posted through one replica, then spread over three, on the same broker,
// interleaved (1, 3, 1, 3); between rounds two replicas are stopped with
// SIGTERM while their deliveries are in flight, and nothing may be lost.
// It prints one line per round and the ratio of three to one.
//
// Faults: two ordered routes, one on RabbitMQ and one on NATS (key: the
// event's subject), take events from emitters that post each key's events
// in sequence, spread over the replicas that answer /readyz as a load
// balancer would. Mid-load one replica is killed with SIGKILL and another
// is cut off the network for 10 s. Then every event answered 202 must reach
// the target, and for each key the first delivery of its events must come
// in sequence. It prints
//
//	replicas=3 accepted=N delivered=N lost=0 duplicated=D order_violations=0
//
// where delivered counts distinct events delivered, duplicated the extra
// deliveries (redeliveries after the kill and cut, and events a producer
// re-posted after an answer it never got), and order_violations the first
// deliveries that came after the first delivery of a later event of their
// key. A redelivery of an event already delivered is a duplicate, not a
// violation: an idempotent consumer drops it.
//
// It needs root, iproute2, and RabbitMQ, NATS and PostgreSQL named by
// EVENTBUS_TEST_RABBIT, EVENTBUS_TEST_NATS and EVENTBUS_TEST_POSTGRES;
// under CI=true anything missing fails it. It is built only with the
// "netns" tag: scripts/test.sh runs it on its own, since it changes the
// host's network.
package replicas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eventbus-go/eventbus/internal/proctest"
	"github.com/eventbus-go/eventbus/internal/testkit"
)

const (
	replicas = 3

	// Throughput rounds: events per round, posted by this many producers.
	roundEvents    = 2000
	roundProducers = 32
	rounds         = 2 // of each of one and three replicas, interleaved

	// Faults: keys per ordered route; events accepted before the kill,
	// between the kill and the cut, and after the cut healed.
	keysPerRoute = 12
	loadStep     = 600
	cutFor       = 10 * time.Second
	settleWait   = 90 * time.Second
)

func TestReplicasShareTheWorkAndSurviveEachOther(t *testing.T) {
	rabbit := backendURL(t, "EVENTBUS_TEST_RABBIT", "amqp://guest:guest@127.0.0.1:5672/")
	natsURL := backendURL(t, "EVENTBUS_TEST_NATS", "nats://127.0.0.1:4222")
	pgURL := backendURL(t, "EVENTBUS_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")

	l := newLab(t, replicas)
	dir := t.TempDir()
	exe := proctest.BuildBus(t, dir)
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)

	// The replicas' view of the brokers and the store: relays on the bridge.
	rabbitURL := via(t, l.hostIP, rabbit)
	rabbitURL.Scheme = "rabbit"
	rabbitURL.RawQuery = "prefix=replicas-" + run + "."
	natsRelay := via(t, l.hostIP, natsURL)
	// A shorter ack wait than the default 30 s: what the killed replica held
	// comes back sooner, which keeps the test short.
	natsRelay.RawQuery = "prefix=replicas_" + run + "&ack_wait=15s"
	store := via(t, l.hostIP, ownDatabase(t, pgURL, "eventbus_replicas_"+run))

	target := newTarget(t, l.hostIP)
	c := &cluster{t: t, lab: l, exe: exe, dir: dir, store: store.String(), procs: make([]*replica, replicas)}
	t.Cleanup(c.stopAll)

	c.start(0)
	putRoute(t, c, "bulk-"+run, map[string]any{
		"match":   map[string]any{"type": []string{"replica.bulk"}},
		"backend": rabbitURL.String(),
		"target":  map[string]any{"http": map[string]any{"url": target.url, "timeout": "5s"}},
		"delivery": map[string]any{
			"max_attempts": 20, "backoff": map[string]any{"initial": "50ms", "max": "1s"}, "max_inflight": 64,
		},
	})
	for name, backend := range map[string]string{"rabbit": rabbitURL.String(), "nats": natsRelay.String()} {
		putRoute(t, c, "ordered-"+name+"-"+run, map[string]any{
			"match":   map[string]any{"type": []string{"replica.ordered." + name}},
			"backend": backend,
			"target":  map[string]any{"http": map[string]any{"url": target.url, "timeout": "3s"}},
			"delivery": map[string]any{
				"max_attempts": 50, "backoff": map[string]any{"initial": "50ms", "max": "1s"},
				"max_inflight": 32, "ordering_key": "subject",
			},
		})
	}

	t.Run("throughput", func(t *testing.T) { throughput(t, c, target) })
	t.Run("faults", func(t *testing.T) { faults(t, c, target) })
}

// throughput posts rounds of events through one replica, then three, and
// prints the rate of each round, from the first post to the last delivery.
// The other replicas are stopped with SIGTERM right after their round's
// last event is accepted, deliveries still in flight: nothing may be lost.
func throughput(t *testing.T, c *cluster, target *target) {
	perSecond := map[int][]float64{}
	for round := range 2 * rounds {
		n := 1
		if round%2 == 1 {
			n = replicas
			c.start(1)
			c.start(2)
		}
		ids := make([]string, roundEvents)
		for i := range ids {
			ids[i] = fmt.Sprintf("bulk-%d-%d", round, i)
		}
		began := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 10 * time.Second}
		for p := range roundProducers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(ids) {
						return
					}
					base := c.base((p + i) % n)
					if code := post(client, base, ids[i], "replica.bulk", ""); code != http.StatusAccepted {
						t.Errorf("posting %s to %s: %d, want 202 (no replica is failing in this phase)", ids[i], base, code)
						return
					}
				}
			})
		}
		wg.Wait()
		client.CloseIdleConnections()
		if t.Failed() {
			return
		}
		if n > 1 { // a rolling stop while the round's deliveries are in flight
			c.terminate(1)
			c.terminate(2)
		}
		var missing []string
		testkit.Poll(60*time.Second, 20*time.Millisecond, func() bool {
			missing = target.undelivered(ids)
			return len(missing) == 0
		})
		if len(missing) > 0 {
			t.Fatalf("round %d (%d replicas): %d accepted events not delivered within 60s (first %v)", round, n, len(missing), missing[:min(5, len(missing))])
		}
		// Up to the round's last first delivery: the SIGTERMs' waits for
		// the processes to exit are not the cluster's throughput.
		rate := float64(roundEvents) / target.lastNew().Sub(began).Seconds()
		perSecond[n] = append(perSecond[n], rate)
		fmt.Printf("throughput round=%d replicas=%d events=%d events_per_s=%.0f\n", round, n, roundEvents, rate)
	}
	var ratios []float64
	for i := range rounds {
		ratios = append(ratios, perSecond[replicas][i]/perSecond[1][i])
	}
	slices.Sort(ratios)
	fmt.Printf("throughput replicas=%d/replicas=1 ratios=%.2f median=%.2f (load average %s)\n", replicas, ratios, median(ratios), loadAverage())
}

// faults runs the ordered load, kills one replica and cuts another off,
// and checks every accepted event is delivered in per-key order.
func faults(t *testing.T, c *cluster, target *target) {
	c.start(1)
	c.start(2)
	lb := newBalancer(c)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go lb.watch(ctx)

	var accepted proctest.IDs
	var wg sync.WaitGroup
	for _, backend := range []string{"rabbit", "nats"} {
		for k := range keysPerRoute {
			key := fmt.Sprintf("%s-k%d", backend, k)
			wg.Go(func() { emitKey(ctx, lb, key, "replica.ordered."+backend, &accepted) })
		}
	}
	waitAccepted := func(n int) {
		testkit.EventuallyNoError(t, 60*time.Second, func() error {
			if got := accepted.Count(); got < n {
				return fmt.Errorf("%d events accepted, waiting for %d", got, n)
			}
			return nil
		})
	}
	waitAccepted(loadStep)
	c.kill(0)
	t.Logf("SIGKILL replica 0 after %d events accepted", accepted.Count())
	waitAccepted(accepted.Count() + loadStep)
	c.lab.cut(t, 1)
	t.Logf("cut replica 1 off the network for %v after %d events accepted", cutFor, accepted.Count())
	<-time.After(cutFor) // the fault's length, not a wait for something to happen
	c.lab.heal(t, 1)
	t.Logf("replica 1 back on the network after %d events accepted", accepted.Count())
	waitAccepted(accepted.Count() + loadStep)
	stop()
	wg.Wait()

	ids := accepted.All()
	var missing []string
	testkit.Poll(settleWait, 100*time.Millisecond, func() bool {
		missing = target.undelivered(ids)
		return len(missing) == 0
	})
	delivered, duplicated, violations, stale := target.ordered()
	fmt.Printf("replicas=%d accepted=%d delivered=%d lost=%d duplicated=%d order_violations=%d\n",
		replicas, len(ids), delivered, len(missing), duplicated, violations)
	t.Logf("%d of the duplicates came after a later event of their key (a stale copy; an idempotent consumer drops it)", stale)
	if len(missing) > 0 {
		t.Errorf("%d events answered 202 were not delivered within %v (first %v)", len(missing), settleWait, missing[:min(5, len(missing))])
	}
	if violations > 0 {
		t.Errorf("%d events were first delivered after a later event of their key: ordering lanes must be held by one replica at a time", violations)
	}
	if delivered != len(ids) {
		t.Errorf("delivered %d distinct events of the fault phase, accepted %d: the target saw events no producer had answered 202 for, or missed some", delivered, len(ids))
	}
}

// emitKey posts key's events in sequence, the next only once the one
// before is accepted, through the replicas the balancer finds ready. An
// event without a 202 is posted again, with the same id, to the next
// replica, as a producer behind a load balancer would.
func emitKey(ctx context.Context, lb *balancer, key, typ string, accepted *proctest.IDs) {
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(10 * time.Millisecond) // paces each key, and its retries
	defer tick.Stop()
	for seq := 0; ; seq++ {
		id := fmt.Sprintf("%s-%05d", key, seq)
		for try := 0; ; try++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			base, ok := lb.pick(seq + try)
			if ok && post(client, base, id, typ, key) == http.StatusAccepted {
				accepted.Add(id)
				break
			}
		}
	}
}

func post(client *http.Client, base, id, typ, subject string) int {
	req, err := http.NewRequest(http.MethodPost, base+"/events", strings.NewReader(`{"id":"`+id+`"}`))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Source", "/test/replicas")
	req.Header.Set("Ce-Type", typ)
	if subject != "" {
		req.Header.Set("Ce-Subject", subject)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// balancer spreads posts over the replicas that answered /readyz with 200
// at its last probe, as a load balancer's health check would.
type balancer struct {
	c     *cluster
	mu    sync.Mutex
	ready []bool
}

func newBalancer(c *cluster) *balancer {
	return &balancer{c: c, ready: make([]bool, replicas)}
}

// watch probes every replica's /readyz every 200 ms until ctx ends.
func (lb *balancer) watch(ctx context.Context) {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		for i := range replicas {
			resp, err := client.Get(lb.c.base(i) + "/readyz")
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				resp.Body.Close()
			}
			lb.mu.Lock()
			lb.ready[i] = ok
			lb.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// pick returns the n-th ready replica, round robin.
func (lb *balancer) pick(n int) (string, bool) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var up []int
	for i, ok := range lb.ready {
		if ok {
			up = append(up, i)
		}
	}
	if len(up) == 0 {
		return "", false
	}
	return lb.c.base(up[n%len(up)]), true
}

// target is the routes' HTTP endpoint, on the bridge's address: it records
// every delivery, in the order they arrive.
type target struct {
	url string

	mu       sync.Mutex
	got      map[string]int
	arrivals []string  // ids of the ordered routes, in arrival order
	last     time.Time // of the latest first delivery of an event
}

func newTarget(t *testing.T, hostIP string) *target {
	tg := &target{got: map[string]int{}}
	ln, err := net.Listen("tcp", net.JoinHostPort(hostIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("Ce-Id")
		tg.mu.Lock()
		if tg.got[id]++; tg.got[id] == 1 {
			tg.last = time.Now()
		}
		if !strings.HasPrefix(id, "bulk-") {
			tg.arrivals = append(tg.arrivals, id)
		}
		tg.mu.Unlock()
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	tg.url = "http://" + ln.Addr().String() + "/"
	return tg
}

// lastNew is when the target last saw an event for the first time.
func (tg *target) lastNew() time.Time {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.last
}

func (tg *target) undelivered(ids []string) []string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	var missing []string
	for _, id := range ids {
		if tg.got[id] == 0 {
			missing = append(missing, id)
		}
	}
	return missing
}

// ordered tallies the ordered routes' deliveries: distinct events, extra
// deliveries, first deliveries that came after a later event of their key
// (violations), and extra deliveries that did (stale copies).
func (tg *target) ordered() (delivered, duplicated, violations, stale int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	seen := map[string]bool{}
	highest := map[string]int{} // key → highest sequence number delivered so far
	for _, id := range tg.arrivals {
		cut := strings.LastIndexByte(id, '-')
		key := id[:cut]
		seq, _ := strconv.Atoi(id[cut+1:])
		top, ok := highest[key]
		later := ok && seq < top
		if seen[id] {
			duplicated++
			if later {
				stale++
			}
			continue
		}
		seen[id] = true
		delivered++
		if later {
			violations++
		}
		if !ok || seq > top {
			highest[key] = seq
		}
	}
	return delivered, duplicated, violations, stale
}

// cluster is the replicas, replica i serving on the lab's address i.
type cluster struct {
	t     *testing.T
	lab   *lab
	exe   string
	dir   string
	store string

	mu    sync.Mutex
	procs []*replica
}

type replica struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error // what Wait returned, once exited is closed
}

func (c *cluster) base(i int) string { return "http://" + net.JoinHostPort(c.lab.nsIP[i], "8080") }

// start runs replica i in its namespace and waits until it answers
// /readyz.
func (c *cluster) start(i int) {
	t := c.t
	t.Helper()
	rdir := filepath.Join(c.dir, fmt.Sprintf("replica-%d", i))
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(rdir, "eventbus.yaml")
	cfg, _ := json.Marshal(map[string]any{
		"addr":             net.JoinHostPort(c.lab.nsIP[i], "8080"),
		"store":            c.store,
		"default_backend":  "mem://",
		"shutdown_timeout": "20s",
		"shutdown_delay":   "1s",
	})
	if err := os.WriteFile(config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(rdir, "bus.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := c.lab.command(i, c.exe, "serve", "--config", config, "--data-dir", filepath.Join(rdir, "data"), "--insecure-no-auth", "--log-level", "warn")
	cmd.Dir = rdir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &replica{cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	c.mu.Lock()
	c.procs[i] = p
	c.mu.Unlock()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	testkit.EventuallyNoError(t, 30*time.Second, func() error {
		select {
		case <-p.exited:
			t.Fatalf("replica %d exited before it was ready: %v%s", i, p.err, p.logTail())
		default:
		}
		resp, err := client.Get(c.base(i) + "/readyz")
		if err != nil {
			return fmt.Errorf("replica %d: GET /readyz: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("replica %d: GET /readyz: %s", i, resp.Status)
		}
		return nil
	})
}

// kill sends SIGKILL to replica i and waits until it is gone.
func (c *cluster) kill(i int) {
	p := c.take(i)
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// terminate sends SIGTERM to replica i, as a rolling restart does, and
// fails the test unless it stops cleanly (exit 0) within 40 s.
func (c *cluster) terminate(i int) {
	t := c.t
	t.Helper()
	p := c.take(i)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("replica %d stopped with %v after SIGTERM, want a clean drain:%s", i, p.err, p.logTail())
		}
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("replica %d did not stop within 40s of SIGTERM:%s", i, p.logTail())
	}
}

func (c *cluster) take(i int) *replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.procs[i]
	c.procs[i] = nil
	return p
}

// stopAll stops the replicas still running, as an operator would.
func (c *cluster) stopAll() {
	for i := range replicas {
		c.mu.Lock()
		running := c.procs[i] != nil
		c.mu.Unlock()
		if running {
			c.terminate(i)
		}
	}
}

func (p *replica) logTail() string { return proctest.LogTail(p.log) }

// backendURL reads a service's URL from env; unset, the test fails under
// CI=true and skips elsewhere.
func backendURL(t *testing.T, env, example string) *url.URL {
	t.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		missing(t, env+" is not set (e.g. "+example+"): the replica test runs on a real broker and store")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	return u
}

// via returns u with its host replaced by a relay to it on listenIP.
func via(t *testing.T, listenIP string, u *url.URL) *url.URL {
	t.Helper()
	r := *u
	r.Host = forward(t, listenIP, u.Host)
	return &r
}

// ownDatabase creates database name on the server of pgURL, drops it when
// the test ends, and returns its URL.
func ownDatabase(t *testing.T, pgURL *url.URL, name string) *url.URL {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgURL.String())
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pgURL.String())
		if err != nil {
			t.Errorf("dropping database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	u := *pgURL
	u.Path = "/" + name
	return &u
}

// putRoute creates route name through replica 0 and deletes it, with its
// channels on the brokers, when the test ends.
func putRoute(t *testing.T, c *cluster, name string, doc map[string]any) {
	t.Helper()
	proctest.PutRoute(t, c.base(0), name, doc)
	t.Cleanup(func() {
		// Through whichever replica still runs, so the route's channels
		// on the brokers go with it.
		client := &http.Client{Timeout: 10 * time.Second}
		for i := range replicas {
			req, _ := http.NewRequest(http.MethodDelete, c.base(i)+"/v1/routes/"+name, nil)
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					return
				}
			}
		}
	})
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
