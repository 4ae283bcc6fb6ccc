package connect_test

import (
	"context"
	"database/sql"
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pigging-go/pigging/connect"
)

const sqliteCustomers = "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, total INTEGER NOT NULL CHECK (total >= 0))"

func sqliteTable(t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := db.Exec(sqliteCustomers); err != nil {
		t.Fatal(err)
	}
}

func TestInsertSQLite(t *testing.T) {
	db, _ := openSQLite(t)
	sqliteTable(t, db)
	ctx, attrs := recorded(t)
	sink := connect.Insert(db, "customers", customerCols, customerRow, connect.WithBatchSize(100))
	if err := sink.Load(ctx, connect.Slice(customers(1, 1234))); err != nil {
		t.Fatal(err)
	}
	if n, sum := count(t, db, "customers"); n != 1234 || sum != 1234*1235/2*100 {
		t.Errorf("after the load: %d rows, sum %d", n, sum)
	}
	a := attrs()
	for k, want := range map[string]string{
		"pigging.sink.rows": "1234", "pigging.sink.batches": "13", "db.system.name": "sqlite",
		"db.collection.name": "customers", "db.operation.name": "INSERT",
	} {
		if a[k] != want {
			t.Errorf("%s = %q, want %q (all: %v)", k, a[k], want, a)
		}
	}
	if a["pigging.sink.bytes"] == "" || a["pigging.sink.bytes"] == "0" {
		t.Errorf("pigging.sink.bytes = %q", a["pigging.sink.bytes"])
	}
	noBatchSize(t, a)

	// The same ids again fail (a primary key), and change nothing...
	err := sink.Load(context.Background(), connect.Slice(customers(1, 10)))
	var be *connect.BatchError
	if !errors.As(err, &be) || be.Batch != 1 || be.Row != 1 {
		t.Errorf("loading the same rows again: %v, want a *BatchError for batch 1, row 1", err)
	}
	// ...unless upserted: loading twice leaves the same table.
	up := connect.Insert(db, "customers", customerCols, customerRow, connect.WithUpsert("id"))
	changed := customers(1, 1300)
	for i := range changed {
		changed[i].Total++
	}
	for range 2 {
		if err := up.Load(context.Background(), connect.Slice(changed)); err != nil {
			t.Fatal(err)
		}
	}
	if n, sum := count(t, db, "customers"); n != 1300 || sum != 1300*1301/2*100+1300 {
		t.Errorf("after the upserts: %d rows, sum %d", n, sum)
	}
}

// A row the database refuses fails the load with an error naming its
// batch and row; the transaction is rolled back and the table is as it
// was, also what earlier batches wrote.
func TestInsertAllOrNothing(t *testing.T) {
	db, _ := openSQLite(t)
	sqliteTable(t, db)
	sink := connect.Insert(db, "customers", customerCols, customerRow, connect.WithBatchSize(100))
	if err := sink.Load(context.Background(), connect.Slice(customers(10_001, 50))); err != nil {
		t.Fatal(err)
	}
	rows := customers(1, 1000)
	rows[456].Total = -1 // row 457: the CHECK refuses it, in batch 5
	err := sink.Load(context.Background(), connect.Slice(rows))
	var be *connect.BatchError
	if !errors.As(err, &be) || be.Batch != 5 || be.Row != 457 || be.First != 401 || be.Last != 500 || be.Table != "customers" {
		t.Fatalf("load with a bad row: %v (%#v)", err, be)
	}
	if !strings.Contains(err.Error(), "batch 5 (rows 401-500), row 457") || !strings.Contains(err.Error(), "CHECK") {
		t.Errorf("message: %v", err)
	}
	t.Logf("the error: %v", err)
	if n, _ := count(t, db, "customers"); n != 50 {
		t.Errorf("%d rows after a failed load, want the 50 from before", n)
	}

	// An error from the input: the same.
	bad := func(yield func(customer, error) bool) {
		for _, c := range customers(1, 250) {
			if !yield(c, nil) {
				return
			}
		}
		yield(customer{}, errors.New("source broke"))
	}
	err = sink.Load(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "row 251 of the input: source broke") {
		t.Errorf("load of a failing input: %v", err)
	}
	if n, _ := count(t, db, "customers"); n != 50 {
		t.Errorf("%d rows after a failed input, want 50", n)
	}

	// A ctx cancelled mid-load: the same.
	ctx, cancel := context.WithCancel(context.Background())
	cancelling := func(yield func(customer, error) bool) {
		for i, c := range customers(1, 1000) {
			if i == 650 {
				cancel()
			}
			if !yield(c, nil) {
				return
			}
		}
	}
	err = sink.Load(ctx, cancelling)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled load: %v", err)
	}
	if n, _ := count(t, db, "customers"); n != 50 {
		t.Errorf("%d rows after a cancelled load, want 50", n)
	}

	// With per-batch commits, the batches before the bad one stay.
	per := connect.Insert(db, "customers", customerCols, customerRow, connect.WithBatchSize(100), connect.WithCommitPerBatch())
	err = per.Load(context.Background(), connect.Slice(rows))
	if !errors.As(err, &be) || be.Batch != 5 {
		t.Fatalf("per-batch load with a bad row: %v", err)
	}
	if n, _ := count(t, db, "customers"); n != 450 {
		t.Errorf("%d rows after a failed per-batch load, want 450", n)
	}
}

func TestSinkBadArguments(t *testing.T) {
	db, _ := openSQLite(t)
	for name, s := range map[string]*connect.Sink[customer]{
		"empty table": connect.Insert(db, "", customerCols, customerRow),
		"no columns":  connect.Insert(db, "customers", nil, customerRow),
		"nil row":     connect.Insert[customer](db, "customers", customerCols, nil),
		"bad key":     connect.Insert(db, "customers", customerCols, customerRow, connect.WithUpsert("nope")),
		"batch 0":     connect.Insert(db, "customers", customerCols, customerRow, connect.WithBatchSize(0)),
		"nil db":      connect.Insert(nil, "customers", customerCols, customerRow),
		"nil conn":    connect.Copy(nil, "customers", customerCols, customerRow),
	} {
		if err := s.Load(context.Background(), connect.Slice(customers(1, 1))); !errors.Is(err, connect.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}

// fencer is a lock's fencing token, set by the test.
type fencer int64

func (f *fencer) Token() int64 { return int64(*f) }

// A fenced load from an older token is refused and writes nothing; a
// newer token goes on.
func TestFenceSQLite(t *testing.T) {
	db, _ := openSQLite(t)
	sqliteTable(t, db)
	testFence(t, func(f connect.Fencer) *connect.Sink[customer] {
		return connect.Insert(db, "customers", customerCols, customerRow, connect.WithFence(f), connect.WithUpsert("id"))
	}, func() int64 { n, _ := count(t, db, "customers"); return n })
}

func TestFencePostgres(t *testing.T) {
	conn := pgConn(t)
	table := pgTable(t, conn, "id bigint PRIMARY KEY, name text NOT NULL, total bigint NOT NULL")
	fences := randomName("connect_fences_")
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+fences) })
	testFence(t, func(f connect.Fencer) *connect.Sink[customer] {
		return connect.Copy(conn, table, customerCols, customerRow, connect.WithFence(f), connect.WithFenceTable(fences))
	}, func() int64 { n, _ := pgCount(t, conn, table); return n })
}

func testFence(t *testing.T, sink func(connect.Fencer) *connect.Sink[customer], rows func() int64) {
	ctx := context.Background()
	old, newer := fencer(5), fencer(7)
	if err := sink(&old).Load(ctx, connect.Slice(customers(1, 10))); err != nil {
		t.Fatal(err)
	}
	if err := sink(&newer).Load(ctx, connect.Slice(customers(11, 10))); err != nil {
		t.Fatal(err)
	}
	// The run with token 5 lost its lock to the run with 7: refused.
	err := sink(&old).Load(ctx, connect.Slice(customers(21, 10)))
	var fe *connect.FencedError
	if !errors.Is(err, connect.ErrFenced) || !errors.As(err, &fe) || fe.Token != 5 || fe.Held != 7 {
		t.Fatalf("load with an older token: %v, want ErrFenced (5 < 7)", err)
	}
	if !strings.Contains(err.Error(), "fencing token 5 is older than token 7") {
		t.Errorf("message: %v", err)
	}
	if n := rows(); n != 20 {
		t.Errorf("%d rows after a fenced load, want 20", n)
	}
	// No lock at all: refused too.
	none := fencer(0)
	if err := sink(&none).Load(ctx, connect.Slice(customers(21, 10))); !errors.Is(err, connect.ErrFenced) {
		t.Errorf("load with no token: %v, want ErrFenced", err)
	}
	// The same token again, and a newer one, go on.
	if err := sink(&newer).Load(ctx, connect.Slice(customers(21, 10))); err != nil {
		t.Fatal(err)
	}
	newest := fencer(8)
	if err := sink(&newest).Load(ctx, connect.Slice(customers(31, 10))); err != nil {
		t.Fatal(err)
	}
	if n := rows(); n != 40 {
		t.Errorf("%d rows, want 40", n)
	}
}

func TestCopyPostgres(t *testing.T) {
	conn := pgConn(t)
	table := pgTable(t, conn, "id bigint PRIMARY KEY, name text NOT NULL, total bigint NOT NULL CHECK (total >= 0)")
	ctx, attrs := recorded(t)
	sink := connect.Copy(conn, table, customerCols, customerRow, connect.WithBatchSize(1000))
	if err := sink.Load(ctx, connect.Slice(customers(1, 2500))); err != nil {
		t.Fatal(err)
	}
	if n, sum := pgCount(t, conn, table); n != 2500 || sum != 2500*2501/2*100 {
		t.Errorf("after the load: %d rows, sum %d", n, sum)
	}
	a := attrs()
	for k, want := range map[string]string{
		"pigging.sink.rows": "2500", "pigging.sink.batches": "3", "db.system.name": "postgresql",
		"db.collection.name": table, "db.operation.name": "COPY", "db.namespace": "pigging",
	} {
		if a[k] != want && !(k == "db.namespace" && a[k] != "") {
			t.Errorf("%s = %q, want %q", k, a[k], want)
		}
	}
	noBatchSize(t, a)

	// A bad row: the batch and row named, the table as it was.
	rows := customers(10_001, 2500)
	rows[1733].Total = -5
	err := sink.Load(context.Background(), connect.Slice(rows))
	var be *connect.BatchError
	var pe *pgconn.PgError
	if !errors.As(err, &be) || be.Batch != 2 || be.Row != 1734 || !errors.As(err, &pe) || pe.Code != "23514" {
		t.Fatalf("load with a bad row: %v", err)
	}
	if n, _ := pgCount(t, conn, table); n != 2500 {
		t.Errorf("%d rows after a failed load, want 2500", n)
	}

	// Upsert: twice the same, the same table.
	up := connect.Copy(conn, table, customerCols, customerRow, connect.WithUpsert("id"), connect.WithBatchSize(1000))
	changed := customers(1, 3000)
	for i := range changed {
		changed[i].Total = 1
	}
	for range 2 {
		if err := up.Load(context.Background(), connect.Slice(changed)); err != nil {
			t.Fatal(err)
		}
	}
	if n, sum := pgCount(t, conn, table); n != 3000 || sum != 3000 {
		t.Errorf("after the upserts: %d rows, sum %d", n, sum)
	}

	// Cancelled mid-load (mid-COPY): nothing. pgx closes a connection
	// whose statement is cancelled, so the load has one of its own.
	cctx, cancel := context.WithCancel(context.Background())
	own := connect.Copy(pgConn(t), table, customerCols, customerRow, connect.WithBatchSize(1000))
	err = own.Load(cctx, cancelAt(customers(20_001, 5000), 3500, cancel))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled load: %v", err)
	}
	if n, _ := pgCount(t, conn, table); n != 3000 {
		t.Errorf("%d rows after a cancelled load, want 3000", n)
	}
}

// cancelAt hands over rows and calls cancel before row at.
func cancelAt[T any](rows []T, at int, cancel func()) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for i, r := range rows {
			if i == at {
				cancel()
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Insert through database/sql on PostgreSQL ($n placeholders, a bad row
// located).
func TestInsertPostgres(t *testing.T) {
	conn := pgConn(t)
	table := pgTable(t, conn, "id bigint PRIMARY KEY, name text NOT NULL, total bigint NOT NULL CHECK (total >= 0)")
	db, err := sql.Open("pgx", pgDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sink := connect.Insert(db, table, customerCols, customerRow, connect.WithBatchSize(100), connect.WithUpsert("id"))
	if err := sink.Load(context.Background(), connect.Slice(customers(1, 321))); err != nil {
		t.Fatal(err)
	}
	rows := customers(1, 321)
	rows[250].Total = -1
	err = sink.Load(context.Background(), connect.Slice(rows))
	var be *connect.BatchError
	if !errors.As(err, &be) || be.Batch != 3 || be.Row != 251 {
		t.Fatalf("bad row: %v", err)
	}
	if n, _ := pgCount(t, conn, table); n != 321 {
		t.Errorf("%d rows, want 321", n)
	}
}

// noBatchSize fails when a sink's span has db.operation.batch.size: each
// batch is one statement (a multi-row INSERT, a COPY), and the semantic
// conventions count the operations of a batch, never the rows, keys or
// other operands of one operation.
func noBatchSize(t *testing.T, a map[string]string) {
	t.Helper()
	if v, ok := a["db.operation.batch.size"]; ok {
		t.Errorf("db.operation.batch.size = %s on one statement per batch", v)
	}
}
