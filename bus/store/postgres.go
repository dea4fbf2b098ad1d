package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is a Store in a PostgreSQL table that several replicas share.
//
// Version checks run in SQL, so concurrent writers in different processes
// cannot overwrite each other. Every write sends a NOTIFY in its own
// transaction; each Postgres LISTENs on a dedicated connection and announces
// the notices on Watch, its own writes included, as soon as they commit.
// When that connection drops, Postgres reconnects with backoff and then
// fires one notice, since changes made in between were not announced.
//
// Specs are kept as bytea so that List returns them byte for byte; names and
// kinds collate as "C" so that the table's order is byte order.
type Postgres struct {
	pool       *pgxpool.Pool
	listenConf *pgx.ConnConfig
	channel    string // the NOTIFY channel: the table's name
	q          postgresQueries
	where      string // names the table and database in errors
	watch      watchers

	stopListening context.CancelFunc
	listening     chan struct{} // closed when the listen loop has returned
	closeOnce     sync.Once
}

var _ Store = (*Postgres)(nil)

// postgresTable is the table, and NOTIFY channel, that OpenPostgres uses.
const postgresTable = "eventbus_resources"

// How long the listen loop waits before reconnecting: listenRetryFirst,
// doubling after each failed attempt up to listenRetryMax.
const (
	listenRetryFirst = 100 * time.Millisecond
	listenRetryMax   = 5 * time.Second
)

// OpenPostgres connects to the PostgreSQL database at url (a postgres://
// URL or key=value string, as libpq takes), creates the eventbus_resources
// table if it is missing, and starts listening for changes. ctx bounds the
// opening only; Close stops the listening.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	return openPostgres(ctx, url, postgresTable)
}

// OpenPostgresTable is OpenPostgres on a table of the caller's choice:
// tests use one table each so that they never see each other's records or
// notices.
func OpenPostgresTable(ctx context.Context, url, table string) (*Postgres, error) {
	return openPostgres(ctx, url, table)
}

func openPostgres(ctx context.Context, url, table string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: postgres URL: %w", err)
	}
	p := &Postgres{
		listenConf: cfg.ConnConfig.Copy(),
		channel:    table,
		q:          newPostgresQueries(pgx.Identifier{table}.Sanitize()),
		where:      fmt.Sprintf("table %s on postgres %s:%d/%s", table, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database),
		listening:  make(chan struct{}),
	}
	p.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", p.where, err)
	}
	if err := p.createTable(ctx); err != nil {
		p.pool.Close()
		return nil, fmt.Errorf("store: create %s: %w; check that the database is reachable and its user may create tables", p.where, err)
	}
	conn, err := p.connectListener(ctx)
	if err != nil {
		p.pool.Close()
		return nil, fmt.Errorf("store: listen for changes to %s: %w", p.where, err)
	}
	listenCtx, cancel := context.WithCancel(context.Background())
	p.stopListening = cancel
	go p.listen(listenCtx, conn)
	return p, nil
}

type postgresQueries struct {
	createTable, list, create, update, upsert, deleteAny, deleteVersion, exists, notify string
	// The replicas table: one row per replica, the time of its last
	// heartbeat (Replicas).
	createReplicas, heartbeat, leave string
}

func newPostgresQueries(table string) postgresQueries {
	replicas := pgx.Identifier{table + "_replicas"}.Sanitize()
	// Rows of a data-modifying WITH are not seen by the statement's SELECT,
	// so the heartbeat counts the others and adds itself.
	heartbeat := `WITH beat AS (
			INSERT INTO ` + replicas + ` (id, seen) VALUES ($1, now())
			ON CONFLICT (id) DO UPDATE SET seen = now()),
		gone AS (
			DELETE FROM ` + replicas + ` WHERE seen < now() - interval '1 hour' AND id <> $1)
		SELECT 1 + count(*) FROM ` + replicas + ` WHERE id <> $1 AND seen > now() - make_interval(secs => $2::float8)`
	return postgresQueries{
		createReplicas: `CREATE TABLE IF NOT EXISTS ` + replicas + ` (
			id   text COLLATE "C" PRIMARY KEY,
			seen timestamptz NOT NULL)`,
		heartbeat: heartbeat,
		leave:     `DELETE FROM ` + replicas + ` WHERE id = $1`,
		createTable: `CREATE TABLE IF NOT EXISTS ` + table + ` (
			kind       text COLLATE "C" NOT NULL,
			name       text COLLATE "C" NOT NULL,
			spec       bytea NOT NULL,
			version    bigint NOT NULL,
			updated_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (kind, name))`,
		list: `SELECT kind, name, spec, version FROM ` + table + ` ORDER BY kind, name`,
		create: `INSERT INTO ` + table + ` (kind, name, spec, version) VALUES ($1, $2, $3, 1)
			ON CONFLICT (kind, name) DO NOTHING RETURNING version`,
		update: `UPDATE ` + table + ` SET spec = $3, version = version + 1, updated_at = now()
			WHERE kind = $1 AND name = $2 AND version = $4 RETURNING version`,
		upsert: `INSERT INTO ` + table + ` AS r (kind, name, spec, version) VALUES ($1, $2, $3, 1)
			ON CONFLICT (kind, name) DO UPDATE SET spec = excluded.spec, version = r.version + 1, updated_at = now()
			RETURNING version`,
		deleteAny:     `DELETE FROM ` + table + ` WHERE kind = $1 AND name = $2`,
		deleteVersion: `DELETE FROM ` + table + ` WHERE kind = $1 AND name = $2 AND version = $3`,
		exists:        `SELECT EXISTS (SELECT FROM ` + table + ` WHERE kind = $1 AND name = $2)`,
		notify:        `SELECT pg_notify($1, $2::text || '/' || $3::text)`,
	}
}

// createTable creates the table unless it exists. Replicas starting together
// would race in CREATE TABLE IF NOT EXISTS (it is not atomic), so they take
// turns under an advisory lock.
func (p *Postgres) createTable(ctx context.Context) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, p.channel); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, p.q.createTable); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, p.q.createReplicas)
		return err
	})
}

// List implements Store.
func (p *Postgres) List(ctx context.Context) ([]Record, error) {
	rows, _ := p.pool.Query(ctx, p.q.list) // CollectRows returns Query's error
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
		var r Record
		var spec []byte
		err := row.Scan(&r.Kind, &r.Name, &spec, &r.Version)
		r.Spec = spec
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: read %s: %w", p.where, err)
	}
	return out, nil
}

// Put implements Store.
func (p *Postgres) Put(ctx context.Context, rec Record, expected int64) (Record, error) {
	kind, name, spec := string(rec.Kind), rec.Name, []byte(rec.Spec)
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var row pgx.Row
		switch expected {
		case Absent:
			row = tx.QueryRow(ctx, p.q.create, kind, name, spec)
		case AnyVersion:
			row = tx.QueryRow(ctx, p.q.upsert, kind, name, spec)
		default:
			row = tx.QueryRow(ctx, p.q.update, kind, name, spec, expected)
		}
		err := row.Scan(&rec.Version)
		if errors.Is(err, pgx.ErrNoRows) {
			return p.refusal(ctx, tx, kind, name)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, p.q.notify, p.channel, kind, name)
		return err
	})
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return Record{}, err
	}
	if err != nil {
		return Record{}, fmt.Errorf("store: write %s/%s to %s: %w", kind, name, p.where, err)
	}
	rec.Spec = bytes.Clone(spec)
	return rec, nil
}

// Delete implements Store.
func (p *Postgres) Delete(ctx context.Context, kind Kind, name string, expected int64) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var tag pgconn.CommandTag
		var err error
		if expected == AnyVersion {
			tag, err = tx.Exec(ctx, p.q.deleteAny, string(kind), name)
		} else {
			tag, err = tx.Exec(ctx, p.q.deleteVersion, string(kind), name, expected)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return p.refusal(ctx, tx, string(kind), name)
		}
		_, err = tx.Exec(ctx, p.q.notify, p.channel, string(kind), name)
		return err
	})
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store: delete %s/%s from %s: %w", kind, name, p.where, err)
	}
	return nil
}

// refusal tells why a write that expected a version matched no row:
// ErrConflict if a record is stored under the name, ErrNotFound if not.
func (p *Postgres) refusal(ctx context.Context, tx pgx.Tx, kind, name string) error {
	var exists bool
	if err := tx.QueryRow(ctx, p.q.exists, kind, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return ErrConflict
	}
	return ErrNotFound
}

// Watch implements Store.
func (p *Postgres) Watch(ctx context.Context) <-chan struct{} { return p.watch.add(ctx) }

// Close implements Store. It stops listening, closes the connections and
// closes every Watch channel.
func (p *Postgres) Close() error {
	p.closeOnce.Do(func() {
		p.stopListening()
		<-p.listening
		p.pool.Close()
		p.watch.closeAll()
	})
	return nil
}

// connectListener opens a connection of its own, outside the pool, and
// LISTENs on it.
func (p *Postgres) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, p.listenConf.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{p.channel}.Sanitize()); err != nil {
		closeListener(conn)
		return nil, err
	}
	return conn, nil
}

// listen announces every notice that arrives on conn on Watch until ctx
// ends, reconnecting whenever the connection fails.
func (p *Postgres) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(p.listening)
	for {
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				break
			}
			p.watch.notify()
		}
		closeListener(conn)
		if conn = p.reconnect(ctx); conn == nil {
			return
		}
		p.watch.notify() // changes while disconnected went unannounced
	}
}

// reconnect retries connectListener with backoff until it succeeds or ctx
// ends (then it returns nil).
func (p *Postgres) reconnect(ctx context.Context) *pgx.Conn {
	delay := listenRetryFirst
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		conn, err := p.connectListener(ctx)
		if err == nil {
			return conn
		}
		delay = min(2*delay, listenRetryMax)
	}
}

// closeListener closes a listening connection, which may already be broken;
// its error is of no use.
func closeListener(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
