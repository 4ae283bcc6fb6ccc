package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/XSAM/otelsql"
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	_ "modernc.org/sqlite" // the embedded database: pure Go, no cgo

	"github.com/pigging-go/pigging/connect"
)

// noDB is the -db value that loads no database.
const noDB = "none"

// dbTarget is where -db says the customers go: a PostgreSQL URL, a SQLite
// file, or nothing. The default is warehouse.db beside -out (in the working
// directory by default).
func (o options) dbTarget() string {
	switch {
	case o.db == noDB:
		return ""
	case o.db != "":
		return o.db
	}
	return filepath.Join(filepath.Dir(o.out), "warehouse.db")
}

// tableName is the table the customers go to: -table, customers when
// options were made without the flags (a benchmark).
func (o options) tableName() string {
	if o.table == "" {
		return "customers"
	}
	return o.table
}

// isPostgres says whether target is a PostgreSQL URL.
func isPostgres(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// dest names where the customers were written, for the summary line.
func (o options) dest() string {
	var parts []string
	if o.out != "" {
		parts = append(parts, o.out)
	}
	if t := o.dbTarget(); t != "" {
		if isPostgres(t) {
			t = "PostgreSQL"
		}
		parts = append(parts, fmt.Sprintf("%s (table %s)", t, o.tableName()))
	}
	if len(parts) == 0 {
		return "nowhere (-out and -db none)"
	}
	return strings.Join(parts, " and ")
}

// customerCols are the warehouse table's columns, in the order
// customerRow fills them.
var customerCols = []string{"customer_id", "orders", "total_cents", "first_order", "last_order"}

func customerRow(c customerTotal, dst []any) {
	dst[0], dst[1], dst[2], dst[3], dst[4] = c.Customer, int64(c.Orders), c.cents, c.FirstOrder, c.LastOrder
}

// loadDB loads rows into the table of the database target names, in one
// transaction: upserted on customer_id, so that a retried or repeated load
// leaves the same table. The table is created when missing. The database
// is opened for the load and closed after it; its statements are traced by
// otelsql (SQLite) or otelpgx (PostgreSQL) with the global provider.
func loadDB(ctx context.Context, target, table string, rows []customerTotal) error {
	if isPostgres(target) {
		return loadPostgres(ctx, target, table, rows)
	}
	db, err := otelsql.Open("sqlite", "file:"+target+"?_pragma=busy_timeout(10000)&_time_format=sqlite",
		otelsql.WithAttributes(semconv.DBSystemNameSQLite))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+quote(table)+
		" (customer_id TEXT PRIMARY KEY, orders INTEGER NOT NULL, total_cents INTEGER NOT NULL,"+
		" first_order TIMESTAMP NOT NULL, last_order TIMESTAMP NOT NULL)"); err != nil {
		return fmt.Errorf("creating table %s in %s: %w", table, target, err)
	}
	sink := connect.Insert(db, table, customerCols, customerRow,
		connect.WithUpsert("customer_id"), connect.WithSystem("sqlite"), connect.WithNamespace(filepath.Base(target)))
	return sink.Load(ctx, connect.Slice(rows))
}

func loadPostgres(ctx context.Context, dsn, table string, rows []customerTotal) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("-db: %w", err)
	}
	cfg.Tracer = otelpgx.NewTracer()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+quote(table)+
		" (customer_id text PRIMARY KEY, orders integer NOT NULL, total_cents bigint NOT NULL,"+
		" first_order timestamptz NOT NULL, last_order timestamptz NOT NULL)"); err != nil {
		return fmt.Errorf("creating table %s: %w", table, err)
	}
	return connect.Copy(conn, table, customerCols, customerRow, connect.WithUpsert("customer_id")).Load(ctx, connect.Slice(rows))
}

// quote quotes a table name for SQL.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// errNoTable is a -table flag that names no table.
var errNoTable = errors.New("-table: want a table name")
