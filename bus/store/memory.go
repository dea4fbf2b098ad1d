package store

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is a Store that keeps records in the process only.
type Memory struct {
	mu      sync.Mutex
	records map[Kind]map[string]Record
	watch   watchers
	seen    map[string]time.Time // replica id → its last heartbeat (Replicas)
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{records: map[Kind]map[string]Record{}}
}

// List implements Store.
func (m *Memory) List(context.Context) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for _, byName := range m.records {
		for _, r := range byName {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, rec Record, expected int64) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.records[rec.Kind][rec.Name]
	if err := check(cur.Version, exists, expected); err != nil {
		return Record{}, err
	}
	rec.Version = cur.Version + 1
	rec.Spec = bytes.Clone(rec.Spec)
	if m.records[rec.Kind] == nil {
		m.records[rec.Kind] = map[string]Record{}
	}
	m.records[rec.Kind][rec.Name] = rec
	m.watch.notify()
	return rec, nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, kind Kind, name string, expected int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.records[kind][name]
	if !exists {
		return ErrNotFound
	}
	if err := check(cur.Version, exists, expected); err != nil {
		return err
	}
	delete(m.records[kind], name)
	m.watch.notify()
	return nil
}

// Watch implements Store.
func (m *Memory) Watch(ctx context.Context) <-chan struct{} { return m.watch.add(ctx) }

// Close implements Store.
func (m *Memory) Close() error {
	m.watch.closeAll()
	return nil
}

// check compares the stored version with the writer's expectation.
func check(stored int64, exists bool, expected int64) error {
	switch {
	case expected == AnyVersion:
		return nil
	case expected == Absent && exists:
		return ErrConflict
	case expected > 0 && !exists:
		return ErrNotFound
	case expected > 0 && stored != expected:
		return ErrConflict
	}
	return nil
}

// watchers fans change notices out to Watch channels. Each channel holds at
// most one pending notice: several changes coalesce into one.
type watchers struct {
	mu     sync.Mutex
	chans  map[chan struct{}]struct{}
	closed bool
}

func (w *watchers) add(ctx context.Context) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan struct{}, 1)
	if w.closed {
		close(ch)
		return ch
	}
	if w.chans == nil {
		w.chans = map[chan struct{}]struct{}{}
	}
	w.chans[ch] = struct{}{}
	context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, ok := w.chans[ch]; ok {
			delete(w.chans, ch)
			close(ch)
		}
	})
	return ch
}

// notify tells every watcher that something changed.
func (w *watchers) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.chans {
		select {
		case ch <- struct{}{}:
		default: // a notice is already pending
		}
	}
}

func (w *watchers) closeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for ch := range w.chans {
		delete(w.chans, ch)
		close(ch)
	}
}
