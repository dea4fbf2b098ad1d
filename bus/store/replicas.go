package store

import (
	"context"
	"fmt"
	"time"
)

// Replicas is a store that knows which bus processes share it, so they can
// share what is meant for all of them together (a route's rate).
//
// Each replica calls Heartbeat regularly under an id of its own; a replica
// whose last heartbeat is older than the ttl it is asked with counts as
// gone. Leave removes a replica at once, on a clean shutdown.
// Postgres and Memory are Replicas; Bolt, which one process holds, is not.
type Replicas interface {
	// Heartbeat records that replica id is alive now and returns how many
	// replicas, id included, sent one within ttl.
	Heartbeat(ctx context.Context, id string, ttl time.Duration) (int, error)
	// Leave forgets replica id.
	Leave(ctx context.Context, id string) error
}

var (
	_ Replicas = (*Postgres)(nil)
	_ Replicas = (*Memory)(nil)
)

// Heartbeat implements Replicas.
func (m *Memory) Heartbeat(_ context.Context, id string, ttl time.Duration) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	m.seen[id] = now
	n := 0
	for other, at := range m.seen {
		switch {
		case now.Sub(at) <= ttl:
			n++
		case now.Sub(at) > time.Hour: // long gone: forget it
			delete(m.seen, other)
		}
	}
	return n, nil
}

// Leave implements Replicas.
func (m *Memory) Leave(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.seen, id)
	return nil
}

// Heartbeat implements Replicas: the replica's row in the store's
// replicas table gets the database's time, which every replica shares, so
// the replicas' clocks need not agree.
func (p *Postgres) Heartbeat(ctx context.Context, id string, ttl time.Duration) (int, error) {
	var n int
	err := p.pool.QueryRow(ctx, p.q.heartbeat, id, ttl.Seconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: heartbeat in %s: %w", p.where, err)
	}
	return n, nil
}

// Leave implements Replicas.
func (p *Postgres) Leave(ctx context.Context, id string) error {
	if _, err := p.pool.Exec(ctx, p.q.leave, id); err != nil {
		return fmt.Errorf("store: leave %s: %w", p.where, err)
	}
	return nil
}
