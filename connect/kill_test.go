//go:build unix

package connect_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pigging-go/pigging/connect"
	"github.com/pigging-go/pigging/internal/proctest"
)

func init() {
	childScenarios["file-writer"] = childFileWriter
	childScenarios["sqlite-loader"] = childSQLiteLoader
	childScenarios["pg-loader"] = childPGLoader
}

// childFileWriter writes PIGGING_TEST_OUT with WriteFile: 1 MiB, then it
// touches PIGGING_TEST_READY and hangs mid-write until it is killed.
func childFileWriter() int {
	out, ready := os.Getenv("PIGGING_TEST_OUT"), os.Getenv("PIGGING_TEST_READY")
	err := connect.WriteFile(context.Background(), out, func(w io.Writer) error {
		line := bytes.Repeat([]byte("partial "), 128)
		for range 1024 {
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		proctest.ChildTouch(ready)
		time.Sleep(time.Minute)
		return nil
	})
	proctest.ChildDie("not killed: %v", err)
	return 1
}

// A file sink killed mid-write leaves the old file intact; the next write
// removes the temporary file it left and replaces the file whole.
func TestFileSinkKilledMidWrite(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "customers.ndjson")
	old := []byte("{\"old\":true}\n")
	if err := os.WriteFile(out, old, 0o644); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(dir, "ready")
	c := proctest.Start(t, "file-writer", "PIGGING_TEST_OUT="+out, "PIGGING_TEST_READY="+ready)
	waitFile(t, ready, c)
	if err := c.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 10*time.Second)
	if sig, ok := c.Signaled(); !ok || sig != syscall.SIGKILL {
		t.Fatalf("child not killed by SIGKILL: %v", c.ProcessState())
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, old) {
		t.Fatalf("target after the killed write: %d bytes, want the old %d", len(b), len(old))
	}
	// What the killed write left: a temporary file, partial, never named
	// like the output.
	if n := proctest.CountFiles(dir, ".customers.ndjson.pigging-"); n != 1 {
		t.Errorf("%d temporary files after the kill, want the 1 the killed run left", n)
	}

	sink := connect.NDJSONFile[customer](out)
	ctx, attrs := recorded(t)
	if err := sink.Load(ctx, connect.Slice(customers(1, 3))); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if lines := strings.Count(string(b), "\n"); lines != 3 || !strings.HasPrefix(string(b), `{"ID":1,"Name":"customer 1","Total":100}`) {
		t.Errorf("new file:\n%s", b)
	}
	if n := proctest.CountFiles(dir, ".customers.ndjson.pigging-"); n != 0 {
		t.Errorf("%d temporary files after the next write, want 0", n)
	}
	if a := attrs(); a["pigging.sink.rows"] != "3" || a["pigging.sink.bytes"] != "123" {
		t.Errorf("span attributes: %v", a)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm()&0o600 != 0o600 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}
}

// A write that fails, or whose ctx is done, leaves the old file and no
// temporary file.
func TestFileSinkFailure(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "totals.csv")
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sink := connect.CSVFile(out, []string{"id", "name"}, func(c customer, dst []string) []string {
		return append(dst, strings.Repeat("x", int(c.ID)), c.Name)
	})
	bad := func(yield func(customer, error) bool) {
		for _, c := range customers(1, 500) {
			if !yield(c, nil) {
				return
			}
		}
		yield(customer{}, io.ErrUnexpectedEOF)
	}
	err := sink.Load(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "row 501 of the input") {
		t.Errorf("failing input: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = sink.Load(ctx, cancelAt(customers(1, 100), 50, cancel))
	if err == nil || !strings.Contains(err.Error(), "not replaced: context canceled") {
		t.Errorf("cancelled: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "old\n" {
		t.Errorf("target after failures: %q", b)
	}
	if n := proctest.CountFiles(dir, "."); n != 0 {
		t.Errorf("%d temporary files left", n)
	}
	if err := sink.Load(context.Background(), connect.Slice(customers(1, 2))); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "id,name\nx,customer 1\nxx,customer 2\n" {
		t.Errorf("target: %q", b)
	}
}

// childSQLiteLoader loads rows into the customers table of the SQLite
// database PIGGING_TEST_DB in one transaction; after 2,000 rows (20
// batches sent) it touches PIGGING_TEST_READY and hangs until it is
// killed.
func childSQLiteLoader() int {
	db, err := sql.Open("sqlite", sqliteDSN(os.Getenv("PIGGING_TEST_DB")))
	if err != nil {
		proctest.ChildDie("%v", err)
	}
	rows := func(yield func(customer, error) bool) {
		for i, c := range customers(1, 5000) {
			if i == 2050 {
				proctest.ChildTouch(os.Getenv("PIGGING_TEST_READY"))
				time.Sleep(time.Minute)
			}
			if !yield(c, nil) {
				return
			}
		}
	}
	err = connect.Insert(db, "customers", customerCols, customerRow, connect.WithBatchSize(100)).Load(context.Background(), rows)
	proctest.ChildDie("not killed: %v", err)
	return 1
}

// A load killed with SIGKILL mid-way leaves the table as it was.
func TestLoadKilledMidway(t *testing.T) {
	db, path := openSQLite(t)
	sqliteTable(t, db)
	if err := connect.Insert(db, "customers", customerCols, customerRow).Load(context.Background(), connect.Slice(customers(10_001, 50))); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(t.TempDir(), "ready")
	c := proctest.Start(t, "sqlite-loader", "PIGGING_TEST_DB="+path, "PIGGING_TEST_READY="+ready)
	waitFile(t, ready, c)
	if err := c.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 10*time.Second)
	if n, _ := count(t, db, "customers"); n != 50 {
		t.Errorf("%d rows after a load killed mid-way, want the 50 from before", n)
	}
	// And the database takes the next load.
	if err := connect.Insert(db, "customers", customerCols, customerRow).Load(context.Background(), connect.Slice(customers(1, 100))); err != nil {
		t.Fatal(err)
	}
}

// childPGLoader copies rows into the PostgreSQL table PIGGING_TEST_TABLE
// in one transaction, in batches of 1,000; in the middle of its third
// batch it touches PIGGING_TEST_READY and hangs until it is killed.
func childPGLoader() int {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv(envDSN))
	if err != nil {
		proctest.ChildDie("%v", err)
	}
	rows := func(yield func(customer, error) bool) {
		for i, c := range customers(1, 5000) {
			if i == 2500 {
				proctest.ChildTouch(os.Getenv("PIGGING_TEST_READY"))
				time.Sleep(time.Minute)
			}
			if !yield(c, nil) {
				return
			}
		}
	}
	err = connect.Copy(conn, os.Getenv("PIGGING_TEST_TABLE"), customerCols, customerRow, connect.WithBatchSize(1000)).Load(ctx, rows)
	proctest.ChildDie("not killed: %v", err)
	return 1
}

// A COPY killed with SIGKILL mid-way (two batches sent, the third under
// way) leaves the table as it was.
func TestCopyKilledMidway(t *testing.T) {
	conn := pgConn(t)
	table := pgTable(t, conn, "id bigint PRIMARY KEY, name text NOT NULL, total bigint NOT NULL")
	if err := connect.Copy(conn, table, customerCols, customerRow).Load(context.Background(), connect.Slice(customers(10_001, 50))); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(t.TempDir(), "ready")
	c := proctest.Start(t, "pg-loader", "PIGGING_TEST_TABLE="+table, "PIGGING_TEST_READY="+ready)
	waitFile(t, ready, c)
	if err := c.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 10*time.Second)
	// The server sees the connection drop and rolls its transaction back.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var busy int
		if err := conn.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' OR query LIKE 'COPY%'").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if busy == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, _ := pgCount(t, conn, table); n != 50 {
		t.Errorf("%d rows after a COPY killed mid-way, want the 50 from before", n)
	}
}

// waitFile waits for a child to touch path.
func waitFile(t *testing.T, path string, c *proctest.Child) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if c.Exited() {
			t.Fatalf("child exited: %s", c.Stderr())
		}
		if time.Now().After(deadline) {
			t.Fatal("child not ready within 60 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
