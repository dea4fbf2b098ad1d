// Package storetest is the conformance suite that every store.Store runs.
//
// A driver's test calls Run with a function that opens an empty store. Each
// behaviour is a subtest with its own store, so a failure names the broken
// sentence of the store.Store contract.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus/store"
)

// watchTimeout bounds how long Run waits for a Watch notice or for a Watch
// channel to close.
const watchTimeout = 2 * time.Second

// Run checks that the stores returned by open keep the store.Store contract.
// open is called once per subtest and must return an empty store that no
// other test uses; Run closes it when the subtest ends, and some subtests
// close it earlier, so Close must be idempotent.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"create with Absent stores version 1", testCreate},
		{"create twice conflicts", testCreateTwice},
		{"update with the stored version bumps it", testUpdate},
		{"update with a stale version conflicts and keeps the record", testUpdateStale},
		{"update of a missing record is not found", testUpdateMissing},
		{"AnyVersion overwrites a stored record", testAnyVersionOverwrites},
		{"AnyVersion creates a missing record", testAnyVersionCreates},
		{"put keeps its own copy of the spec", testPutCopiesSpec},
		{"delete with the stored version removes the record", testDelete},
		{"delete with AnyVersion removes the record", testDeleteAnyVersion},
		{"delete with a stale version conflicts and keeps the record", testDeleteStale},
		{"delete of a missing record is not found", testDeleteMissing},
		{"create after delete starts again at version 1", testRecreate},
		{"list of an empty store is empty", testListEmpty},
		{"list is sorted by kind then name with specs byte for byte", testListSorted},
		{"watch fires after put", testWatchPut},
		{"watch fires after delete", testWatchDelete},
		{"watch closes when its context ends", testWatchContext},
		{"concurrent creates: exactly one wins", testConcurrentCreates},
		{"concurrent updates with the same version: exactly one wins", testConcurrentUpdates},
		{"close closes watch channels", testCloseClosesWatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.test(t, s)
		})
	}
}

func rec(kind store.Kind, name, spec string) store.Record {
	return store.Record{Kind: kind, Name: name, Spec: []byte(spec)}
}

// mustPut stores r and fails the test if the store refuses it.
func mustPut(t *testing.T, s store.Store, r store.Record, expected int64) store.Record {
	t.Helper()
	got, err := s.Put(t.Context(), r, expected)
	if err != nil {
		t.Fatalf("Put(%s/%s, expected %d): %v", r.Kind, r.Name, expected, err)
	}
	return got
}

// wantList fails the test unless List returns exactly want, in order, with
// specs equal byte for byte (%q shows every byte).
func wantList(t *testing.T, s store.Store, want ...store.Record) {
	t.Helper()
	got, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if fmt.Sprint(describe(got)) != fmt.Sprint(describe(want)) {
		t.Fatalf("List returned\n  %v\nwant\n  %v", describe(got), describe(want))
	}
}

func describe(rs []store.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s/%s v%d %q", r.Kind, r.Name, r.Version, r.Spec)
	}
	return out
}

func wantErr(t *testing.T, op string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s returned %v, want %v", op, err, want)
	}
}

// wantNotice fails the test unless ch delivers a notice within watchTimeout.
func wantNotice(t *testing.T, ch <-chan struct{}, after string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed instead of firing after %s", after)
		}
	case <-time.After(watchTimeout):
		t.Fatalf("watch did not fire within %v after %s: readers would keep stale resources", watchTimeout, after)
	}
}

// wantClosed fails the test unless ch is closed within watchTimeout; pending
// notices before the close are allowed.
func wantClosed(t *testing.T, ch <-chan struct{}, after string) {
	t.Helper()
	deadline := time.After(watchTimeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("watch channel still open %v after %s: its reader would leak", watchTimeout, after)
		}
	}
}

func testCreate(t *testing.T, s store.Store) {
	got := mustPut(t, s, rec(store.KindRoute, "r1", `{"a":1}`), store.Absent)
	if got.Version != 1 || got.Kind != store.KindRoute || got.Name != "r1" || string(got.Spec) != `{"a":1}` {
		t.Fatalf("Put returned %+v, want route/r1 version 1 with the spec written", got)
	}
	wantList(t, s, got)
}

func testCreateTwice(t *testing.T, s store.Store) {
	first := mustPut(t, s, rec(store.KindRoute, "r1", `{"a":1}`), store.Absent)
	_, err := s.Put(t.Context(), rec(store.KindRoute, "r1", `{"a":2}`), store.Absent)
	wantErr(t, "second create", err, store.ErrConflict)
	wantList(t, s, first)
}

func testUpdate(t *testing.T, s store.Store) {
	mustPut(t, s, rec(store.KindBus, "b", `{"v":1}`), store.Absent)
	got := mustPut(t, s, rec(store.KindBus, "b", `{"v":2}`), 1)
	if got.Version != 2 {
		t.Fatalf("update returned version %d, want 2", got.Version)
	}
	got = mustPut(t, s, rec(store.KindBus, "b", `{"v":3}`), 2)
	if got.Version != 3 {
		t.Fatalf("second update returned version %d, want 3", got.Version)
	}
	wantList(t, s, got)
}

func testUpdateStale(t *testing.T, s store.Store) {
	mustPut(t, s, rec(store.KindBus, "b", `{"v":1}`), store.Absent)
	cur := mustPut(t, s, rec(store.KindBus, "b", `{"v":2}`), 1)
	_, err := s.Put(t.Context(), rec(store.KindBus, "b", `{"v":"stale"}`), 1)
	wantErr(t, "update with version 1 when 2 is stored", err, store.ErrConflict)
	wantList(t, s, cur)
}

func testUpdateMissing(t *testing.T, s store.Store) {
	_, err := s.Put(t.Context(), rec(store.KindBus, "b", `{}`), 3)
	wantErr(t, "update of a missing record", err, store.ErrNotFound)
	wantList(t, s)
}

func testAnyVersionOverwrites(t *testing.T, s store.Store) {
	mustPut(t, s, rec(store.KindRoute, "r", `{"v":1}`), store.Absent)
	mustPut(t, s, rec(store.KindRoute, "r", `{"v":2}`), 1)
	got := mustPut(t, s, rec(store.KindRoute, "r", `{"v":"any"}`), store.AnyVersion)
	if got.Version != 3 {
		t.Fatalf("AnyVersion over version 2 returned version %d, want 3", got.Version)
	}
	wantList(t, s, got)
}

func testAnyVersionCreates(t *testing.T, s store.Store) {
	got := mustPut(t, s, rec(store.KindRoute, "r", `{}`), store.AnyVersion)
	if got.Version != 1 {
		t.Fatalf("AnyVersion on a missing record returned version %d, want 1", got.Version)
	}
	wantList(t, s, got)
}

func testPutCopiesSpec(t *testing.T, s store.Store) {
	spec := []byte(`{"a":1}`)
	mustPut(t, s, store.Record{Kind: store.KindBus, Name: "b", Spec: spec}, store.Absent)
	copy(spec, `{"X":9}`)
	wantList(t, s, store.Record{Kind: store.KindBus, Name: "b", Spec: []byte(`{"a":1}`), Version: 1})
}

func testDelete(t *testing.T, s store.Store) {
	mustPut(t, s, rec(store.KindRoute, "r", `{}`), store.Absent)
	mustPut(t, s, rec(store.KindRoute, "r", `{}`), 1)
	if err := s.Delete(t.Context(), store.KindRoute, "r", 2); err != nil {
		t.Fatalf("Delete with the stored version: %v", err)
	}
	wantList(t, s)
}

func testDeleteAnyVersion(t *testing.T, s store.Store) {
	mustPut(t, s, rec(store.KindRoute, "r", `{}`), store.Absent)
	if err := s.Delete(t.Context(), store.KindRoute, "r", store.AnyVersion); err != nil {
		t.Fatalf("Delete with AnyVersion: %v", err)
	}
	wantList(t, s)
}

func testDeleteStale(t *testing.T, s store.Store) {
	mustPut(t, s, rec(store.KindRoute, "r", `{}`), store.Absent)
	cur := mustPut(t, s, rec(store.KindRoute, "r", `{"v":2}`), 1)
	err := s.Delete(t.Context(), store.KindRoute, "r", 1)
	wantErr(t, "Delete with version 1 when 2 is stored", err, store.ErrConflict)
	wantList(t, s, cur)
}

func testDeleteMissing(t *testing.T, s store.Store) {
	mustPut(t, s, rec(store.KindBus, "r", `{}`), store.Absent) // same name, other kind
	for _, expected := range []int64{1, store.AnyVersion} {
		err := s.Delete(t.Context(), store.KindRoute, "r", expected)
		wantErr(t, fmt.Sprintf("Delete of a missing record with expected %d", expected), err, store.ErrNotFound)
	}
}

func testRecreate(t *testing.T, s store.Store) {
	mustPut(t, s, rec(store.KindRoute, "r", `{}`), store.Absent)
	mustPut(t, s, rec(store.KindRoute, "r", `{}`), 1)
	if err := s.Delete(t.Context(), store.KindRoute, "r", 2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	got := mustPut(t, s, rec(store.KindRoute, "r", `{"again":true}`), store.Absent)
	if got.Version != 1 {
		t.Fatalf("create after delete returned version %d, want 1", got.Version)
	}
}

func testListEmpty(t *testing.T, s store.Store) {
	wantList(t, s)
}

func testListSorted(t *testing.T, s store.Store) {
	// Names whose byte order differs from common locale collations, and
	// specs whose exact bytes a JSON column would reformat.
	specs := map[string]string{
		"alpha": `{"z": 1,  "a" : [1,2]}`,
		"Zeta":  "{\n  \"nested\": {\"k\": \"\\u00e9\"}\n}",
		"a-b":   `{"big":12345678901234567890}`,
		"ab":    `{"dup":1,"dup":2}`,
		"a_b":   `["not","an","object"]`,
		"é":     `{"s":"é\t"}`,
	}
	var want []store.Record
	for _, kind := range []store.Kind{store.KindRoute, store.KindBus} {
		for name, spec := range specs {
			mustPut(t, s, rec(kind, name, spec), store.Absent)
		}
	}
	for _, kind := range []store.Kind{store.KindBus, store.KindRoute} {
		for _, name := range []string{"Zeta", "a-b", "a_b", "ab", "alpha", "é"} {
			want = append(want, store.Record{Kind: kind, Name: name, Spec: []byte(specs[name]), Version: 1})
		}
	}
	wantList(t, s, want...)
}

func testWatchPut(t *testing.T, s store.Store) {
	ch := s.Watch(t.Context())
	mustPut(t, s, rec(store.KindRoute, "r", `{}`), store.Absent)
	wantNotice(t, ch, "a create")
	mustPut(t, s, rec(store.KindRoute, "r", `{}`), 1)
	wantNotice(t, ch, "an update")
}

func testWatchDelete(t *testing.T, s store.Store) {
	mustPut(t, s, rec(store.KindRoute, "r", `{}`), store.Absent)
	ch := s.Watch(t.Context())
	if err := s.Delete(t.Context(), store.KindRoute, "r", 1); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotice(t, ch, "a delete")
}

func testWatchContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	ch := s.Watch(ctx)
	cancel()
	wantClosed(t, ch, "its context ended")
}

// race runs n calls of write at once and returns their errors.
func race(n int, write func() error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Go(func() {
			start.Wait()
			errs[i] = write()
		})
	}
	start.Done()
	done.Wait()
	return errs
}

// wantOneWinner fails the test unless exactly one error is nil and every
// other one is ErrConflict.
func wantOneWinner(t *testing.T, errs []error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("a losing writer got %v, want ErrConflict", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d writers won, want exactly 1: concurrent writers would overwrite each other", wins, len(errs))
	}
}

const writers = 8

func testConcurrentCreates(t *testing.T, s store.Store) {
	wantOneWinner(t, race(writers, func() error {
		_, err := s.Put(t.Context(), rec(store.KindRoute, "r", `{}`), store.Absent)
		return err
	}))
	wantList(t, s, store.Record{Kind: store.KindRoute, Name: "r", Spec: []byte(`{}`), Version: 1})
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	mustPut(t, s, rec(store.KindRoute, "r", `{}`), store.Absent)
	wantOneWinner(t, race(writers, func() error {
		_, err := s.Put(t.Context(), rec(store.KindRoute, "r", `{"updated":true}`), 1)
		return err
	}))
	wantList(t, s, store.Record{Kind: store.KindRoute, Name: "r", Spec: []byte(`{"updated":true}`), Version: 2})
}

func testCloseClosesWatch(t *testing.T, s store.Store) {
	ch := s.Watch(t.Context())
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantClosed(t, ch, "Close")
	wantClosed(t, s.Watch(t.Context()), "Watch on a closed store")
}
