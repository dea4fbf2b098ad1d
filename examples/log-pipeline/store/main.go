// Command store is an eventbus plugin, the storage end of the log
// pipeline. It takes log events in batches (plugin.ServeBatch: the bus
// hands over whatever is waiting, up to 256 at a time) and appends each
// batch to the file STORE_FILE with one write and one fsync, acknowledging
// the batch only once it is on disk. One JSON line per log record.
//
// Delivery is at least once: after a crash, records of a batch that was
// written but not yet acknowledged come again. Readers deduplicate by
// (source, id), which every line carries.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/sdk/plugin"
)

// record is one line of the store.
type record struct {
	Batch  int64           `json:"batch"` // which write stored it
	Source string          `json:"source"`
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// syncWriter is a file: written, then flushed to disk.
type syncWriter interface {
	io.Writer
	Sync() error
}

type store struct {
	mu      sync.Mutex // one batch writes at a time
	out     syncWriter
	batches int64
	buf     []byte
}

func (s *store) HandleBatch(_ context.Context, events []event.Event) ([]plugin.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	s.buf = s.buf[:0]
	results := make([]plugin.Result, len(events))
	for i, e := range events {
		if !json.Valid(e.Data()) {
			results[i] = plugin.DeadLetter("the log record is not JSON")
			continue
		}
		line, err := json.Marshal(record{Batch: s.batches, Source: e.Source(), ID: e.ID(), Type: e.Type(), Time: e.Time(), Data: e.Data()})
		if err != nil {
			return nil, err
		}
		s.buf = append(append(s.buf, line...), '\n')
	}
	// The whole batch in one write and one flush: that is what batching
	// buys. An error retries the batch.
	if _, err := s.out.Write(s.buf); err != nil {
		return nil, err
	}
	if err := s.out.Sync(); err != nil {
		return nil, err
	}
	return results, nil
}

func main() {
	path := os.Getenv("STORE_FILE")
	if path == "" {
		fmt.Fprintln(os.Stderr, "store: set STORE_FILE to the file to append log records to")
		os.Exit(1)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "store:", err)
		os.Exit(1)
	}
	plugin.ServeBatch(&store{out: f},
		plugin.Options{Name: "store", Version: "1.0.0", EventTypes: []string{"log.info", "log.warn", "log.error"}})
}
