package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/bus/store/storetest"
	"github.com/eventbus-go/eventbus/internal/testkit"
)

// notifyWithin is how soon a store must announce another store's write.
const notifyWithin = time.Second

var postgresURL = storetest.PostgresURL

// admin opens a plain connection for the test to inspect the database with.
func admin(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

var testTable = storetest.PostgresTable

func openPostgres(t *testing.T, url, table string) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgresTable(t.Context(), url, table)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func waitNotice(t *testing.T, ch <-chan struct{}, within time.Duration, after string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed instead of firing after %s", after)
		}
	case <-time.After(within):
		t.Fatalf("watch did not fire within %v after %s: replicas would serve stale resources", within, after)
	}
}

// listenerPIDs returns the server processes listening on table's channel.
func listenerPIDs(t *testing.T, conn *pgx.Conn, table string) []int32 {
	t.Helper()
	rows, _ := conn.Query(t.Context(), `SELECT pid FROM pg_stat_activity WHERE query = $1`,
		"LISTEN "+pgx.Identifier{table}.Sanitize())
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatalf("find the listening connection: %v", err)
	}
	return pids
}

func TestPostgres(t *testing.T) {
	url := postgresURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		table := testTable(t, url)
		p, err := store.OpenPostgresTable(t.Context(), url, table)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		return p
	})
}

func TestPostgresCountsTheReplicasSharingIt(t *testing.T) {
	url := postgresURL(t)
	table := testTable(t, url)
	storetest.RunReplicas(t, openPostgres(t, url, table), openPostgres(t, url, table))
}

func TestPostgresStoresShareChanges(t *testing.T) {
	url := postgresURL(t)
	table := testTable(t, url)
	a, b := openPostgres(t, url, table), openPostgres(t, url, table)

	seenByB := b.Watch(t.Context())
	put, err := a.Put(t.Context(), store.Record{Kind: store.KindRoute, Name: "r", Spec: []byte(`{"x": 1}`)}, store.Absent)
	if err != nil {
		t.Fatalf("Put on the first store: %v", err)
	}
	waitNotice(t, seenByB, notifyWithin, "a Put on another store")
	got, err := b.List(t.Context())
	if err != nil {
		t.Fatalf("List on the second store: %v", err)
	}
	if len(got) != 1 || got[0].Name != "r" || got[0].Version != put.Version || string(got[0].Spec) != `{"x": 1}` {
		t.Fatalf("the second store lists %+v, want the first store's write %+v", got, put)
	}

	seenByA := a.Watch(t.Context())
	if err := b.Delete(t.Context(), store.KindRoute, "r", put.Version); err != nil {
		t.Fatalf("Delete on the second store: %v", err)
	}
	waitNotice(t, seenByA, notifyWithin, "a Delete on another store")
}

func TestPostgresListenerReconnects(t *testing.T) {
	url := postgresURL(t)
	table := testTable(t, url)
	conn := admin(t, url)
	p, other := openPostgres(t, url, table), openPostgres(t, url, table)
	pids := listenerPIDs(t, conn, table)
	if len(pids) != 2 {
		t.Fatalf("found %d connections listening on %s, want one per store", len(pids), table)
	}

	ch := p.Watch(t.Context())
	if _, err := conn.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, pids); err != nil {
		t.Fatalf("terminate the listening connections: %v", err)
	}
	waitNotice(t, ch, 5*time.Second, "its listening connection dropped (changes may have been missed)")

	// Only a store listening again hears another store's write; the other
	// store may still be reconnecting, and its write must not wait for it.
	if _, err := other.Put(t.Context(), store.Record{Kind: store.KindBus, Name: "b", Spec: []byte(`{}`)}, store.Absent); err != nil {
		t.Fatalf("Put after the reconnect: %v", err)
	}
	waitNotice(t, ch, notifyWithin, "a write once reconnected")
}

func TestPostgresCloseStopsListening(t *testing.T) {
	url := postgresURL(t)
	table := testTable(t, url)
	conn := admin(t, url)
	p := openPostgres(t, url, table)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	testkit.Eventually(t, 5*time.Second, "the listening connection to close after Close", func() bool {
		return len(listenerPIDs(t, conn, table)) == 0
	})
}

func TestPostgresOpenErrorNamesTable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := store.OpenPostgres(ctx, "postgres://postgres@127.0.0.1:1/nothere?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("OpenPostgres of a closed port succeeded")
	}
	for _, want := range []string{"eventbus_resources", "127.0.0.1:1/nothere", "reachable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
