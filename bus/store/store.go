// Package store keeps a bus's resources — buses, routes, API keys, schemas
// and schedules — across
// restarts and shares them between replicas.
//
// A Store holds records: a kind, a name, a JSON spec and a version. Every
// write bumps the version, and a write may require the version it expects
// (optimistic concurrency): a stale expectation fails with ErrConflict, so
// two writers never silently overwrite each other. Changes made through one
// Store — by this process or by another replica sharing it — are announced
// on Watch, and readers reload with List.
//
// Implementations: Memory (nothing kept; for tests and the zero config),
// Bolt (an embedded file, one process), and Postgres (shared by replicas,
// changes announced with LISTEN/NOTIFY within a second).
package store

import (
	"context"
	"encoding/json"
	"errors"
)

// Kind is the type of a record.
type Kind string

// The kinds the bus keeps.
const (
	KindBus   Kind = "bus"
	KindRoute Kind = "route"
	// KindKey is an API key: its name, groups and hash, never the key.
	KindKey Kind = "key"
	// KindSchema is every version of the JSON Schema of one event type,
	// named by the type.
	KindSchema Kind = "schema"
	// KindSchedule is a schedule; KindScheduleFired, under the same name,
	// the last time it fired, which replicas compare-and-set to fire it
	// once.
	KindSchedule      Kind = "schedule"
	KindScheduleFired Kind = "schedule-fired"
)

// Record is one stored resource.
type Record struct {
	Kind    Kind
	Name    string
	Spec    json.RawMessage // the resource as the admin API shows it (a key: with its hash)
	Version int64           // 1 on creation, +1 on every update
}

// Expectations of Put and Delete about the version currently stored.
const (
	// AnyVersion writes whatever is stored (or nothing).
	AnyVersion int64 = -1
	// Absent writes only if nothing is stored under the name (create).
	Absent int64 = 0
)

// ErrConflict: the stored version is not the one the writer expected.
var ErrConflict = errors.New("store: version conflict")

// ErrNotFound: nothing is stored under the name.
var ErrNotFound = errors.New("store: not found")

// Store keeps records. Implementations are safe for concurrent use.
type Store interface {
	// List returns every record, sorted by kind then name.
	List(ctx context.Context) ([]Record, error)
	// Put stores rec.Spec under rec.Kind and rec.Name if the stored version
	// is expected (a version, Absent or AnyVersion) and returns the record
	// as stored, with its new version. ErrConflict otherwise, or ErrNotFound
	// if a version is expected and nothing is stored.
	Put(ctx context.Context, rec Record, expected int64) (Record, error)
	// Delete removes a record if the stored version is expected (a version
	// or AnyVersion); ErrNotFound if there is none, ErrConflict if the
	// version differs.
	Delete(ctx context.Context, kind Kind, name string, expected int64) error
	// Watch returns a channel that receives a value after records change,
	// by this process or another sharing the store; several changes may
	// come as one. It is closed when ctx ends or the store closes.
	Watch(ctx context.Context) <-chan struct{}
	// Close releases the store.
	Close() error
}
