package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// checkTable checks the customers the job loaded: 300 of them, 3927
// orders in all.
func checkTable(t *testing.T, q func(string) *sql.Row, table string) {
	t.Helper()
	var n, orders int64
	if err := q("SELECT count(*), sum(orders) FROM "+table).Scan(&n, &orders); err != nil {
		t.Fatal(err)
	}
	if n != 300 || orders != 3927 {
		t.Errorf("%s: %d customers, %d orders; want 300 and 3927", table, n, orders)
	}
}

// By default the customers go into warehouse.db beside -out, a SQLite
// database; a second run upserts the same rows and leaves the same table.
func TestLoadsSQLiteByDefault(t *testing.T) {
	j := newJob(t)
	for range 2 {
		res := j.run()
		if res.err != nil {
			t.Fatal(res.err)
		}
		if !strings.Contains(res.stdout, "300 customers written to "+j.out+" and "+filepath.Join(j.dir, "warehouse.db")+" (table customers)") {
			t.Errorf("stdout: %s", res.stdout)
		}
		db, err := sql.Open("sqlite", filepath.Join(j.dir, "warehouse.db"))
		if err != nil {
			t.Fatal(err)
		}
		checkTable(t, func(q string) *sql.Row { return db.QueryRow(q) }, "customers")
		db.Close()
	}
	// The sink reports on the span in its ctx: with retries, the attempt's.
	res := j.run("-db", filepath.Join(j.dir, "other.db"), "-table", "totals")
	attrs := map[string]string{}
	for _, kv := range spanNamed(t, res.spans, "attempt 2").Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["db.collection.name"] != "totals" || attrs["db.system.name"] != "sqlite" || attrs["pigging.sink.rows"] != "300" || attrs["db.operation.name"] != "INSERT" {
		t.Errorf("attempt span attributes: %v", attrs)
	}
	if _, err := os.Stat(filepath.Join(j.dir, "other.db")); err != nil {
		t.Errorf("-db other.db: %v", err)
	}
}

func TestNoDB(t *testing.T) {
	j := newJob(t)
	res := j.run("-db", "none")
	if res.err != nil {
		t.Fatal(res.err)
	}
	if _, err := os.Stat(filepath.Join(j.dir, "warehouse.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("-db none made a database: %v", err)
	}
	checkOutput(t, j.out, 300)
	if res := j.run("-table", ""); res.err == nil {
		t.Errorf("-table \"\": no error")
	}
}

// With -db postgres://..., the customers go into PostgreSQL through COPY.
func TestLoadsPostgres(t *testing.T) {
	dsn := os.Getenv("PIGGING_PG_DSN")
	if dsn == "" {
		t.Skip("needs PostgreSQL: set PIGGING_PG_DSN (CI starts a throwaway cluster)")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	table := "etl_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	j := newJob(t)
	for range 2 {
		res := j.run("-db", dsn, "-table", table)
		if res.err != nil {
			t.Fatal(res.err)
		}
		if !strings.Contains(res.stdout, "PostgreSQL (table "+table+")") || strings.Contains(res.stdout, "postgres://") {
			t.Errorf("stdout: %s", res.stdout)
		}
	}
	var n, orders int64
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(orders) FROM "+table).Scan(&n, &orders); err != nil {
		t.Fatal(err)
	}
	if n != 300 || orders != 3927 {
		t.Errorf("%d customers, %d orders; want 300 and 3927", n, orders)
	}
}
