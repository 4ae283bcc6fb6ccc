package connect

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PgxBeginner starts a pgx transaction: *pgx.Conn and *pgxpool.Pool are
// PgxBeginners.
type PgxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Copy returns a Sink that loads rows into table of a PostgreSQL database
// with COPY (pgx's CopyFrom, in the binary format), one COPY per batch
// (DefaultCopyBatchSize rows unless WithBatchSize says otherwise). columns
// and row are as for Insert; the values are those pgx encodes for the
// columns' types. With WithUpsert, each batch is copied into a temporary
// table and merged with INSERT ... SELECT ... ON CONFLICT DO UPDATE (a key
// twice in one batch is then an error of the database's). For spans of
// the statements themselves, give the connection a tracer
// (github.com/exaring/otelpgx).
//
// A COPY pulls its rows from the input as it sends them: no batch is held
// in memory, and the server works while the next rows are made. A ctx
// cancelled during a COPY makes pgx close the connection, as it does for
// any statement it cancels (a pool replaces it); the transaction dies
// with it and the table is as it was.
//
// A bad argument makes every Load return an error wrapping
// ErrInvalidOption; Copy itself never fails.
func Copy[T any](db PgxBeginner, table string, columns []string, row func(v T, dst []any), opts ...Option) *Sink[T] {
	c, _ := newConfig(opts)
	b := &pgBackend{db: db, namespace: c.namespace, table: pgx.Identifier(strings.Split(table, ".")), cols: columns, upsert: c.upsert}
	if b.namespace == "" {
		b.namespace = databaseOf(db)
	}
	s := newSink(b, table, columns, row, opts)
	if db == nil && s.err == nil {
		s.err = fmt.Errorf("connect: sink %s: db is nil: %w", table, ErrInvalidOption)
	}
	return s
}

// databaseOf is the database db connects to, when it says.
func databaseOf(db PgxBeginner) string {
	switch d := db.(type) {
	case interface{ Config() *pgx.ConnConfig }:
		if c := d.Config(); c != nil {
			return c.Database
		}
	}
	return ""
}

// pgBackend writes with pgx.
type pgBackend struct {
	db        PgxBeginner
	namespace string
	table     pgx.Identifier
	cols      []string
	upsert    []string

	fences fenceTables
}

func (b *pgBackend) info() dbInfo {
	return dbInfo{system: "postgresql", namespace: b.namespace, operation: "COPY"}
}

func (b *pgBackend) batchSize(int) (int, int) { return DefaultCopyBatchSize, 1 << 30 }

// streams: a COPY pulls its rows from the input as it sends them, so
// that the server works on a batch while the next rows are made, rather
// than waiting for a batch to be buffered.
func (b *pgBackend) streams() bool { return true }

func (b *pgBackend) ensureFence(ctx context.Context, table string) error {
	text := "CREATE TABLE IF NOT EXISTS " + quoteIdent(table, `"`) + " (target TEXT PRIMARY KEY, token BIGINT NOT NULL)"
	return b.fences.ensure(table, func() error { return b.exec(ctx, text) })
}

// exec runs one statement in a transaction of its own.
func (b *pgBackend) exec(ctx context.Context, text string) error {
	return pgx.BeginFunc(ctx, b.db, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, text)
		return err
	})
}

func (b *pgBackend) begin(ctx context.Context) (loadTx, error) {
	tx, err := b.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &pgTx{b: b, tx: tx}, nil
}

// copyLine finds the line of a COPY's error context: "COPY t, line 42".
var copyLine = regexp.MustCompile(`COPY [^,]*, line (\d+)`)

// locate reads the row from the server's error: a COPY names its line.
func (b *pgBackend) locate(_ context.Context, _ []any, _ int, err error) int {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return 0
	}
	if m := copyLine.FindStringSubmatch(pe.Where); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// pgTx is a load's transaction through pgx.
type pgTx struct {
	b       *pgBackend
	tx      pgx.Tx
	staging string // the upsert's temporary table, once made
}

func (t *pgTx) fence(ctx context.Context, table, target string, token int64) (int64, bool, error) {
	var got int64
	err := t.tx.QueryRow(ctx, fenceText(table, `"`, true), target, token).Scan(&got)
	if err == nil {
		return got, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, err
	}
	var held int64
	if err := t.tx.QueryRow(ctx, heldText(table, `"`, true), target).Scan(&held); err != nil {
		return 0, false, err
	}
	return held, false, nil
}

func (t *pgTx) write(ctx context.Context, vals []any, rows int) error {
	nc := len(t.b.cols)
	return t.copyRows(ctx, pgx.CopyFromSlice(rows, func(i int) ([]any, error) { return vals[i*nc : (i+1)*nc], nil }))
}

// copyRows copies the rows of src into the table, or with an upsert into
// the staging table and from there into the table.
func (t *pgTx) copyRows(ctx context.Context, src pgx.CopyFromSource) error {
	if len(t.b.upsert) == 0 {
		_, err := t.tx.CopyFrom(ctx, t.b.table, t.b.cols, src)
		return err
	}
	cols := make([]string, len(t.b.cols))
	for i, c := range t.b.cols {
		cols[i] = quoteIdent(c, `"`)
	}
	list := strings.Join(cols, ", ")
	if t.staging == "" {
		name := "pigging_staging"
		text := "CREATE TEMPORARY TABLE " + name + " ON COMMIT DROP AS SELECT " + list +
			" FROM " + t.b.table.Sanitize() + " WITH NO DATA"
		if _, err := t.tx.Exec(ctx, text); err != nil {
			return fmt.Errorf("creating the staging table: %w", err)
		}
		t.staging = name
	}
	if _, err := t.tx.CopyFrom(ctx, pgx.Identifier{t.staging}, t.b.cols, src); err != nil {
		return err
	}
	merge := "INSERT INTO " + t.b.table.Sanitize() + " (" + list + ") SELECT " + list + " FROM " + t.staging +
		upsertClause(t.b.cols, t.b.upsert, `"`)
	if _, err := t.tx.Exec(ctx, merge); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, "TRUNCATE "+t.staging)
	return err
}

func (t *pgTx) commit(ctx context.Context) error { return t.tx.Commit(ctx) }

func (t *pgTx) rollback(ctx context.Context) error {
	if t.tx.Conn().IsClosed() {
		return nil // the transaction died with its connection
	}
	if err := t.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return nil
}
