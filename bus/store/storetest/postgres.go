package storetest

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresURL returns the test database's URL from EVENTBUS_TEST_POSTGRES.
// Without it the test skips, except under CI, where it fails.
func PostgresURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("EVENTBUS_TEST_POSTGRES")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("EVENTBUS_TEST_POSTGRES is not set: CI must test against a real PostgreSQL")
		}
		t.Skip("EVENTBUS_TEST_POSTGRES is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return url
}

// PostgresTable returns a table name that no other test uses, and drops
// the table when the test ends, after the stores registered later are
// closed.
func PostgresTable(t testing.TB, url string) string {
	t.Helper()
	table := "eventbus_test_" + strings.ToLower(rand.Text())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("connect to drop table %s: %v", table, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize()+", "+pgx.Identifier{table + "_replicas"}.Sanitize()); err != nil {
			t.Errorf("drop table %s: %v", table, err)
		}
	})
	return table
}
