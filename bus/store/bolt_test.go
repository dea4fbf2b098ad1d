package store_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/bus/store/storetest"
)

func openBolt(t *testing.T, path string) *store.Bolt {
	t.Helper()
	b, err := store.OpenBolt(path)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	return b
}

func TestBolt(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openBolt(t, filepath.Join(t.TempDir(), "store.db"))
	})
}

func TestBoltKeepsRecordsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "dirs", "store.db")
	b := openBolt(t, path)
	written, err := b.Put(t.Context(), store.Record{Kind: store.KindRoute, Name: "r", Spec: []byte(`{"a": 1}`)}, store.Absent)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	b = openBolt(t, path)
	defer b.Close()
	got, err := b.List(t.Context())
	if err != nil {
		t.Fatalf("List after reopen: %v", err)
	}
	if len(got) != 1 || got[0].Name != written.Name || got[0].Version != 1 || string(got[0].Spec) != `{"a": 1}` {
		t.Fatalf("after reopen List returned %+v, want only %+v: a restart would lose resources", got, written)
	}
	if _, err := b.Put(t.Context(), written, 1); err != nil {
		t.Fatalf("update with the version stored before the reopen: %v", err)
	}
}

func TestBoltSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	b := openBolt(t, path)
	defer b.Close()

	start := time.Now()
	second, err := store.OpenBolt(path)
	if err == nil {
		second.Close()
		t.Fatal("a second OpenBolt of an open file succeeded: two processes would share one bbolt file")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the second OpenBolt failed after %v, want about a second", took)
	}
	for _, want := range []string{path, "another eventbus may be running"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
