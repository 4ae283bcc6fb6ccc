package pglock_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// oldDDL is the DDL of the versions before the runs table, word for word:
// the tables a new version finds in databases that ran them.
func oldDDL(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
    job         text        PRIMARY KEY,
    pid         integer     NOT NULL,
    host        text        NOT NULL,
    started     timestamptz NOT NULL,
    trace_id    text        NOT NULL DEFAULT '',
    span_id     text        NOT NULL DEFAULT '',
    status      text        NOT NULL CHECK (status IN ('running', 'failed', 'cancelled')),
    error       text        NOT NULL DEFAULT '',
    log         text        NOT NULL DEFAULT '',
    token       bigint      NOT NULL,
    backend_pid integer     NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE IF NOT EXISTS ` + table + `_token;
`
}

// queryOne returns the single value sql returns.
func queryOne[T any](t *testing.T, sql string, args ...any) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connectRetry(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// A lock table made by an earlier version, holding a run's "failed" row:
// Inspect reads it as it is (stale, its status read as failure) without
// altering it; the first Start of this version brings the table up to
// date (exit columns, the status CHECK with the run states, the runs
// table), is refused by the legacy row naming its host and log, and leaves
// it as it was; the next run can take over and write "failure"; a status
// outside the vocabulary is still refused, and the DDL runs again cleanly.
func TestMigrateOldTable(t *testing.T) {
	table := newTable(t)
	sqlExec(t, oldDDL(table))
	sqlExec(t, "INSERT INTO "+table+` (job, pid, host, started, status, error, log, token, backend_pid)
		VALUES ('legacy', 4242, 'old-host', '2026-11-30T02:00:00Z', 'failed', 'disk full', '/var/log/old.log', 1, 0)`)
	l := newLocker(t, table, "legacy", pglock.WithHost("new-host"))
	ctx := context.Background()

	st := inspect(t, l)
	if st.State != pigging.LockStale || st.Holder == nil || st.Holder.Status != "failure" || st.Holder.Host != "old-host" ||
		st.Holder.Error != "disk full" || st.Holder.ExitCode != nil || st.Holder.ExitSource != "" {
		t.Fatalf("Inspect of the old table = %+v, holder %+v; want stale, its status read as failure", st, st.Holder)
	}
	if tableExists(t, table+"_runs") || queryOne[bool](t, "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_name = $1 AND column_name = 'exit_code')", table) {
		t.Fatal("Inspect altered the old table")
	}

	dir := t.TempDir()
	logPath := filepath.Join(dir, "etl-new-host.log")
	tr, _ := pigging.New(logPath, "", trackerOpts(l, "legacy")...)
	_, err := tr.Start(ctx)
	if !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("Start over the legacy row = %v, want ErrStaleLock", err)
	}
	for _, want := range []string{"previous run pid 4242 on old-host (job legacy)", "failed: disk full", "read /var/log/old.log on old-host,"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if raw := queryOne[string](t, "SELECT status FROM "+table+" WHERE job = 'legacy'"); raw != "failed" {
		t.Errorf("the refused run changed the legacy row's status to %q", raw)
	}
	checks := queryOne[[]string](t, "SELECT array_agg(pg_get_constraintdef(oid)) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'", table)
	if len(checks) != 1 || !strings.Contains(checks[0], "'failure'") || !strings.Contains(checks[0], "'failed'") {
		t.Errorf("the table's CHECKs after the migration: %q; want one, with the run states and the legacy values", checks)
	}
	if !tableExists(t, table+"_runs") {
		t.Error("no runs table after the migration")
	}

	// The next run takes the stale lock and ends with the new vocabulary
	// and an exit status.
	a, err := l.Acquire(ctx, &pigging.LockInfo{PID: 7, Job: "legacy", Started: time.Now(), Status: "running"})
	if err != nil || a.Lease == nil || !a.Stale || a.Holder == nil || a.Holder.Status != "failure" {
		t.Fatalf("Acquire = %+v, %v; want the stale legacy lock", a, err)
	}
	code := 2
	if err := a.Lease.Keep(ctx, &pigging.LockInfo{PID: 7, Job: "legacy", Started: time.Now(), Status: "failure",
		Error: "new failure", ExitCode: &code, ExitSource: "command"}); err != nil {
		t.Fatal(err)
	}
	if raw := queryOne[string](t, "SELECT status || ' ' || exit_code || ' ' || exit_source || ' ' || host FROM "+table+" WHERE job = 'legacy'"); raw != "failure 2 command new-host" {
		t.Errorf("row after Keep = %q, want failure 2 command new-host", raw)
	}
	for _, s := range []string{"running", "failure", "error", "timeout", "cancellation", "failed", "cancelled"} {
		sqlExec(t, "UPDATE "+table+" SET status = $1 WHERE job = 'legacy'", s)
	}
	c, err := pgx.Connect(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "UPDATE "+table+" SET status = 'succeeded' WHERE job = 'legacy'"); err == nil {
		t.Error("the CHECK took a status outside the vocabulary")
	}
	sqlExec(t, pglock.DDL(table))
	sqlExec(t, pglock.DDL(table))
	// A second Locker (another host, a later process) finds it current.
	if st := inspect(t, newLocker(t, table, "legacy")); st.State != pigging.LockStale || st.Holder.Status != "cancellation" {
		t.Errorf("Inspect after the DDL ran again = %+v", st)
	}
}

// Runs starting together on a table of an earlier version migrate it
// once, one after the other: every Start succeeds or is refused by the
// lock, none fails on the DDL.
func TestMigrateConcurrentStarts(t *testing.T) {
	table := newTable(t)
	sqlExec(t, oldDDL(table))
	const n = 6
	errs := make(chan error, n)
	for i := range n {
		l := newLocker(t, table, "together")
		go func() {
			a, err := l.Acquire(context.Background(), &pigging.LockInfo{PID: i, Job: "together", Started: time.Now(), Status: "running"})
			if err == nil && a.Lease != nil {
				err = a.Lease.Release(context.Background())
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if !tableExists(t, table+"_runs") {
		t.Error("no runs table")
	}
}

// The exit status a program sets (Tracker.SetExit) is in the row of its
// failed run, while it runs (a failure recorded mid-run) and after, and
// Inspect returns it, as the lock file does; a refused run puts it back
// unchanged.
func TestExitStatusInTheRow(t *testing.T) {
	table := newTable(t)
	l := newLocker(t, table, "exit")
	logPath := filepath.Join(t.TempDir(), "job.log")
	ctx := context.Background()
	err := pigging.Run(ctx, logPath, "", func(ctx context.Context, tr *pigging.Tracker) error {
		tr.SetExit(3, pigging.ExitSourceCommand)
		failure := errors.New("exit status 3")
		tr.LogException(failure)
		if raw := queryOne[string](t, "SELECT exit_code || ' ' || exit_source FROM "+table+" WHERE job = 'exit'"); raw != "3 command" {
			t.Errorf("row during the run = %q, want 3 command", raw)
		}
		return failure
	}, trackerOpts(l, "exit")...)
	if err == nil {
		t.Fatal("the failed run returned nil")
	}
	st := inspect(t, l)
	if st.State != pigging.LockStale || st.Holder.ExitCode == nil || *st.Holder.ExitCode != 3 || st.Holder.ExitSource != "command" {
		t.Fatalf("Inspect after the failed run = %+v, holder %+v; want exit 3 from the command", st, st.Holder)
	}
	before := queryOne[string](t, "SELECT row_to_json(r)::text FROM "+table+" r WHERE job = 'exit'")
	tr, _ := pigging.New(logPath, "", trackerOpts(l, "exit")...)
	if _, err := tr.Start(ctx); !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("Start = %v, want ErrStaleLock", err)
	}
	if after := queryOne[string](t, "SELECT row_to_json(r)::text FROM "+table+" r WHERE job = 'exit'"); after != before {
		t.Errorf("a refused run changed the row:\n%s\n%s", before, after)
	}

	// An exit code beyond the column's 32 bits is left out, not an error.
	a, err := l.Acquire(ctx, &pigging.LockInfo{Job: "exit", Started: time.Now(), Status: "running"})
	if err != nil || a.Lease == nil {
		t.Fatalf("Acquire = %+v, %v", a, err)
	}
	huge := 1 << 40
	if err := a.Lease.Keep(ctx, &pigging.LockInfo{Job: "exit", Started: time.Now(), Status: "failure", ExitCode: &huge, ExitSource: "pigging"}); err != nil {
		t.Fatal(err)
	}
	if st := inspect(t, l); st.Holder.ExitCode != nil || st.Holder.ExitSource != "pigging" {
		t.Errorf("Inspect after an exit code beyond 32 bits = %+v", st.Holder)
	}
}

// A table with the longest name WithTable takes (57 bytes): the server cut
// the name of its old status CHECK, and the migration replaces that one;
// the runs table and its index get names the server keeps whole.
func TestMigrateLongTableName(t *testing.T) {
	table := randomName("pglock_test_")
	table = ownTable(t, table+strings.Repeat("x", 57-len(table)))
	sqlExec(t, oldDDL(table))
	l := newLocker(t, table, "long-name")
	a, err := l.Acquire(context.Background(), &pigging.LockInfo{Job: "long-name", Started: time.Now(), Status: "running"})
	if err != nil || a.Lease == nil {
		t.Fatalf("Acquire = %+v, %v", a, err)
	}
	if err := a.Lease.Keep(context.Background(), &pigging.LockInfo{Job: "long-name", Started: time.Now(), Status: "timeout"}); err != nil {
		t.Fatalf("Keep with status timeout on the migrated table: %v", err)
	}
	checks := queryOne[[]string](t, "SELECT array_agg(conname) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'", table)
	if len(checks) != 1 || checks[0] != table[:50]+"_status_check" {
		t.Errorf("CHECKs of the migrated table = %q, want the one the server named", checks)
	}
	appendRun(t, l, entry(0, pigging.StateTimeout), 10)
	idx := queryOne[[]string](t, "SELECT array_agg(indexname::text) FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(job, id DESC)'", table+"_runs")
	if len(idx) != 1 || idx[0] != table[:50]+"_runs_job_idx" {
		t.Errorf("indexes of the runs table = %q, want its key and the (job, id DESC) one", idx)
	}
}
