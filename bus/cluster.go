package bus

import (
	"context"
	"crypto/rand"
	"sync/atomic"
	"time"

	"github.com/eventbus-go/eventbus/bus/store"
)

// Replicas sharing a store share what is meant for all of them together.
// Each sends the store a heartbeat every heartbeatEvery and learns how many
// replicas sent one within heartbeatTTL (itself included):
//
//   - delivery.rate is the cluster's: each replica delivers a route at
//     rate / replicas, adjusted as replicas come and go (a replica killed
//     without a goodbye stops counting after heartbeatTTL);
//   - delivery.max_depth is counted by the broker: while several replicas
//     run, each sets its count of a capped route's events to the channel's
//     depth every heartbeat, since events one replica stored are delivered
//     by another. Between two readings a replica adds what it stored and
//     takes off what it finished; events in flight count as the backend's
//     Depth counts them (RabbitMQ does not count them), so the cap holds to
//     within the routes' max_inflight per replica and one heartbeat's
//     worth of ingress. Alone, a replica keeps its own exact count.
//
// Redrives need nothing: one request, answered by one replica, moves each
// dead letter once.
const (
	heartbeatEvery = time.Second
	heartbeatTTL   = 5 * heartbeatEvery
)

// cluster is this process's membership of the replicas sharing its store.
type cluster struct {
	id       string
	members  store.Replicas
	replicas atomic.Int64 // live replicas, this one included
	stop     context.CancelFunc
	done     chan struct{}
}

// joinCluster starts heartbeats when the store can count replicas; it
// leaves the cluster at Shutdown (leaveCluster).
func (b *Bus) joinCluster() {
	members, ok := b.store.Store.(store.Replicas)
	if !ok {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &cluster{id: rand.Text(), members: members, stop: stop, done: make(chan struct{})}
	c.replicas.Store(1)
	b.cluster = c
	go b.beat(ctx, c)
}

// beat sends heartbeats until ctx ends, then leaves.
func (b *Bus) beat(ctx context.Context, c *cluster) {
	defer close(c.done)
	tick := time.NewTicker(heartbeatEvery)
	defer tick.Stop()
	for {
		n, err := c.members.Heartbeat(ctx, c.id, heartbeatTTL)
		switch {
		case err != nil && ctx.Err() == nil:
			b.log.Warn("replica heartbeat failed; limits stay shared as last known", "replicas", c.replicas.Load(), "err", err)
		case err == nil:
			was := c.replicas.Swap(int64(n))
			if n > 1 || was > 1 {
				b.syncDepths(ctx)
			}
		}
		select {
		case <-ctx.Done():
			leave, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := c.members.Leave(leave, c.id); err != nil {
				b.log.Warn("leaving the replicas failed; the others count this one until its heartbeat expires", "ttl", heartbeatTTL, "err", err)
			}
			cancel()
			return
		case <-tick.C:
		}
	}
}

// syncDepths sets the admission count of every route with a max_depth to
// its channel's depth, asking the backends for at most one heartbeat.
func (b *Bus) syncDepths(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
	defer cancel()
	for _, br := range b.state.Load().buses {
		for _, lr := range br.routes {
			if lr.route.Delivery.MaxDepth == 0 {
				continue
			}
			depth, err := lr.backend.Depth(ctx, lr.route.Name)
			if err != nil {
				continue // the next heartbeat tries again; the local count stands meanwhile
			}
			lr.admission.sync(depth)
		}
	}
}

// leaveCluster stops the heartbeats and removes this replica from the
// count.
func (b *Bus) leaveCluster() {
	if b.cluster == nil {
		return
	}
	b.cluster.stop()
	<-b.cluster.done
}

// liveReplicas counts the replicas sharing this one's limits: 1 without a
// shared store.
func (b *Bus) liveReplicas() int {
	if b.cluster == nil {
		return 1
	}
	return int(b.cluster.replicas.Load())
}
