package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Bolt is a Store kept in one bbolt file: a bucket per kind, a key per name,
// and as value the version (8 bytes, big-endian) followed by the spec.
//
// Only one process may have the file open: bbolt locks it, and Watch
// announces only the writes made through this Bolt.
type Bolt struct {
	db        *bolt.DB
	path      string
	watch     watchers
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Bolt)(nil)

// boltLockTimeout is how long OpenBolt waits for another process to release
// the file before it gives up.
const boltLockTimeout = time.Second

// OpenBolt opens the bbolt file at path, creating it and its parent
// directories if they are missing. It fails within a second if another
// process holds the file.
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: create the directory of %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: boltLockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is locked by another process (another eventbus may be running with it): stop it or use another file: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Bolt{db: db, path: path}, nil
}

// List implements Store. bbolt iterates buckets and keys in byte order,
// which is the order List promises.
func (b *Bolt) List(context.Context) ([]Record, error) {
	var out []Record
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(kind []byte, bucket *bolt.Bucket) error {
			return bucket.ForEach(func(name, value []byte) error {
				version, spec := decodeBoltValue(value)
				out = append(out, Record{
					Kind:    Kind(kind),
					Name:    string(name),
					Spec:    bytes.Clone(spec), // value lives only as long as tx
					Version: version,
				})
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: read %s: %w", b.path, err)
	}
	return out, nil
}

// Put implements Store.
func (b *Bolt) Put(_ context.Context, rec Record, expected int64) (Record, error) {
	err := b.db.Update(func(tx *bolt.Tx) error {
		bucket, err := tx.CreateBucketIfNotExists([]byte(rec.Kind))
		if err != nil {
			return err
		}
		value := bucket.Get([]byte(rec.Name))
		stored, _ := decodeBoltValue(value)
		if err := check(stored, value != nil, expected); err != nil {
			return err
		}
		rec.Version = stored + 1
		return bucket.Put([]byte(rec.Name), encodeBoltValue(rec.Version, rec.Spec))
	})
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return Record{}, err
	}
	if err != nil {
		return Record{}, fmt.Errorf("store: write %s/%s to %s: %w", rec.Kind, rec.Name, b.path, err)
	}
	b.watch.notify()
	rec.Spec = bytes.Clone(rec.Spec)
	return rec, nil
}

// Delete implements Store.
func (b *Bolt) Delete(_ context.Context, kind Kind, name string, expected int64) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		bucket := tx.Bucket([]byte(kind))
		if bucket == nil {
			return ErrNotFound
		}
		value := bucket.Get([]byte(name))
		if value == nil {
			return ErrNotFound
		}
		stored, _ := decodeBoltValue(value)
		if err := check(stored, true, expected); err != nil {
			return err
		}
		return bucket.Delete([]byte(name))
	})
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store: delete %s/%s from %s: %w", kind, name, b.path, err)
	}
	b.watch.notify()
	return nil
}

// Watch implements Store.
func (b *Bolt) Watch(ctx context.Context) <-chan struct{} { return b.watch.add(ctx) }

// Close implements Store. It releases the file for another process.
func (b *Bolt) Close() error {
	b.closeOnce.Do(func() {
		b.watch.closeAll()
		if err := b.db.Close(); err != nil {
			b.closeErr = fmt.Errorf("store: close %s: %w", b.path, err)
		}
	})
	return b.closeErr
}

func encodeBoltValue(version int64, spec []byte) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(version)), spec...)
}

// decodeBoltValue splits a stored value; a nil value (nothing stored) is
// version 0.
func decodeBoltValue(value []byte) (version int64, spec []byte) {
	if len(value) < 8 {
		return 0, nil
	}
	return int64(binary.BigEndian.Uint64(value)), value[8:]
}
