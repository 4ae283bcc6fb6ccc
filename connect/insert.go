package connect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Insert returns a Sink that loads rows into table of db with multi-row
// INSERT statements, through any database/sql driver. columns are the
// table's columns the rows fill, and row fills dst (len(columns) values,
// in that order) from one item; the values are those the driver takes
// (int64, float64, string, []byte, bool, time.Time, or what its
// driver.Valuer gives). table may be schema-qualified ("warehouse.customers");
// names are quoted, so they are taken as written.
//
// The statements take ? placeholders, or $1, $2 ... when the system
// (WithSystem, else the driver) is PostgreSQL; WithUpsert writes ON
// CONFLICT ... DO UPDATE, as PostgreSQL and SQLite take it. Arguments it
// cannot use (an empty table, no columns, a nil row, an upsert key that is
// not a column, a bad option) make every Load return an error wrapping
// ErrInvalidOption; Insert itself never fails.
func Insert[T any](db *sql.DB, table string, columns []string, row func(v T, dst []any), opts ...Option) *Sink[T] {
	c, _ := newConfig(opts)
	system := c.system
	if system == "" && db != nil {
		system = systemOf(db)
	}
	b := &sqlBackend{db: db, system: system, namespace: c.namespace, table: table, cols: columns, upsert: c.upsert}
	s := newSink(b, table, columns, row, opts)
	if db == nil && s.err == nil {
		s.err = fmt.Errorf("connect: sink %s: db is nil: %w", table, ErrInvalidOption)
	}
	return s
}

// sqlBackend writes through database/sql.
type sqlBackend struct {
	db        *sql.DB
	system    string
	namespace string
	table     string
	cols      []string
	upsert    []string

	mu    sync.Mutex
	texts map[int]string // the INSERT statement for n rows

	fences fenceTables
}

func (b *sqlBackend) info() dbInfo {
	return dbInfo{system: b.system, namespace: b.namespace, operation: "INSERT"}
}

func (b *sqlBackend) dollar() bool { return b.system == "postgresql" }

func (b *sqlBackend) quote() string {
	if b.system == "mysql" || b.system == "mariadb" {
		return "`"
	}
	return `"`
}

// batchSize: 500 rows, fewer when the statement would pass 32,766
// parameters (SQLite's limit since 3.32; PostgreSQL's is 65,535).
func (b *sqlBackend) batchSize(cols int) (int, int) {
	maxRows := max(1, 32766/max(cols, 1))
	return min(DefaultBatchSize, maxRows), maxRows
}

// text returns the INSERT statement for n rows.
func (b *sqlBackend) text(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.texts[n]; ok {
		return s
	}
	q := b.quote()
	var sb strings.Builder
	sb.WriteString("INSERT INTO ")
	sb.WriteString(quoteIdent(b.table, q))
	sb.WriteString(" (")
	for i, c := range b.cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(quoteIdent(c, q))
	}
	sb.WriteString(") VALUES ")
	p := 0
	for r := range n {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for i := range b.cols {
			if i > 0 {
				sb.WriteString(", ")
			}
			p++
			if b.dollar() {
				sb.WriteByte('$')
				sb.WriteString(strconv.Itoa(p))
			} else {
				sb.WriteByte('?')
			}
		}
		sb.WriteByte(')')
	}
	sb.WriteString(upsertClause(b.cols, b.upsert, q))
	if b.texts == nil {
		b.texts = map[int]string{}
	}
	// Keep the full batch's and a few tails': a load has at most two sizes.
	if len(b.texts) < 8 {
		b.texts[n] = sb.String()
	}
	return sb.String()
}

// upsertClause is the ON CONFLICT clause for keys, or "" without keys.
func upsertClause(cols, keys []string, q string) string {
	if len(keys) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteString(" ON CONFLICT (")
	for i, k := range keys {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(quoteIdent(k, q))
	}
	sb.WriteString(") DO ")
	n := 0
	for _, c := range cols {
		if isKey(c, keys) {
			continue
		}
		if n == 0 {
			sb.WriteString("UPDATE SET ")
		} else {
			sb.WriteString(", ")
		}
		n++
		sb.WriteString(quoteIdent(c, q) + " = excluded." + quoteIdent(c, q))
	}
	if n == 0 {
		sb.WriteString("NOTHING")
	}
	return sb.String()
}

func isKey(c string, keys []string) bool {
	for _, k := range keys {
		if k == c {
			return true
		}
	}
	return false
}

func (b *sqlBackend) ensureFence(ctx context.Context, table string) error {
	text := "CREATE TABLE IF NOT EXISTS " + quoteIdent(table, b.quote()) + " (target " + textType(b.system) + " PRIMARY KEY, token BIGINT NOT NULL)"
	return b.fences.ensure(table, func() error {
		_, err := b.db.ExecContext(ctx, text)
		return err
	})
}

// textType is the type of the fence's target column: MySQL cannot index
// TEXT without a length.
func textType(system string) string {
	if system == "mysql" || system == "mariadb" {
		return "VARCHAR(255)"
	}
	return "TEXT"
}

// fenceText is the statement that advances a fence row: it inserts the
// row, or raises its token when the row holds no larger one, and returns
// the token when it did.
func fenceText(table, q string, dollar bool) string {
	t := quoteIdent(table, q)
	p1, p2 := "?", "?"
	if dollar {
		p1, p2 = "$1", "$2"
	}
	return "INSERT INTO " + t + " (target, token) VALUES (" + p1 + ", " + p2 + ") ON CONFLICT (target) DO UPDATE SET token = excluded.token WHERE " +
		t + ".token <= excluded.token RETURNING token"
}

func heldText(table, q string, dollar bool) string {
	p := "?"
	if dollar {
		p = "$1"
	}
	return "SELECT token FROM " + quoteIdent(table, q) + " WHERE target = " + p
}

func (b *sqlBackend) begin(ctx context.Context) (loadTx, error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqlTx{b: b, tx: tx}, nil
}

// sqlTx is a load's transaction through database/sql.
type sqlTx struct {
	b     *sqlBackend
	tx    *sql.Tx
	full  *sql.Stmt // the full batch's statement, prepared once
	fullN int
}

func (t *sqlTx) fence(ctx context.Context, table, target string, token int64) (int64, bool, error) {
	q, d := t.b.quote(), t.b.dollar()
	var got int64
	err := t.tx.QueryRowContext(ctx, fenceText(table, q, d), target, token).Scan(&got)
	if err == nil {
		return got, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, err
	}
	var held int64
	if err := t.tx.QueryRowContext(ctx, heldText(table, q, d), target).Scan(&held); err != nil {
		return 0, false, err
	}
	return held, false, nil
}

func (t *sqlTx) write(ctx context.Context, vals []any, rows int) error {
	var err error
	if t.full != nil && rows == t.fullN {
		_, err = t.full.ExecContext(ctx, vals...)
	} else if t.full == nil && rows > 1 {
		// The first batch is full unless the load is smaller than one.
		t.full, err = t.tx.PrepareContext(ctx, t.b.text(rows))
		t.fullN = rows
		if err == nil {
			_, err = t.full.ExecContext(ctx, vals...)
		}
	} else {
		_, err = t.tx.ExecContext(ctx, t.b.text(rows), vals...)
	}
	return err
}

// locate looks for the row of a failed batch the database refuses: in a
// transaction of its own, rolled back, it inserts the batch's rows one by
// one and returns the first that fails (from 1), or 0. Only rows the
// database refuses alone are found (a NOT NULL, a CHECK, a type, a key
// already in the table): not a clash with an earlier batch of the same
// load, which was rolled back.
// It runs after the load's transaction was rolled back, whose locks would
// hold it up.
func (b *sqlBackend) locate(ctx context.Context, vals []any, rows int, _ error) int {
	if ctx.Err() != nil || rows < 2 {
		return 0
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return 0
	}
	defer tx.Rollback()
	nc := len(b.cols)
	stmt, err := tx.PrepareContext(ctx, b.text(1))
	if err != nil {
		return 0
	}
	defer stmt.Close()
	for r := range rows {
		if _, err := stmt.ExecContext(ctx, vals[r*nc:(r+1)*nc]...); err != nil {
			return r + 1
		}
	}
	return 0
}

func (t *sqlTx) commit(context.Context) error {
	t.closeStmt()
	return t.tx.Commit()
}

func (t *sqlTx) rollback(context.Context) error {
	t.closeStmt()
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

func (t *sqlTx) closeStmt() {
	if t.full != nil {
		t.full.Close()
		t.full = nil
	}
}

// fenceTables remembers the fence tables a sink has made, so that each is
// created once per sink.
type fenceTables struct {
	mu   sync.Mutex
	made map[string]bool
}

// ensure runs create for table unless it ran and succeeded before. A
// create that fails is tried once more: two runs creating the table at
// once may see one of them fail on the catalog, with the table there all
// the same.
func (f *fenceTables) ensure(table string, create func() error) error {
	f.mu.Lock()
	done := f.made[table]
	f.mu.Unlock()
	if done {
		return nil
	}
	if err := create(); err != nil {
		if create() != nil {
			return err
		}
	}
	f.mu.Lock()
	if f.made == nil {
		f.made = map[string]bool{}
	}
	f.made[table] = true
	f.mu.Unlock()
	return nil
}
