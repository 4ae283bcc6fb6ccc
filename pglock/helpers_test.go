package pglock_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// Environment of the tests.
const (
	envDSN = "PIGGING_PG_DSN" // the test database; the tests that need it skip without it
	envCtl = "PIGGING_PG_CTL" // a pg_ctl command line for the test cluster; "restart -m fast" is added
)

// childScenarios are the programs a child process can run, by name.
var childScenarios = map[string]func() int{}

func TestMain(m *testing.M) { proctest.Main(m, childScenarios) }

// dsn returns the test database, or skips the test saying what it needs.
func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv(envDSN)
	if d == "" {
		t.Skip("needs PostgreSQL: set " + envDSN + " (CI starts a throwaway cluster)")
	}
	return d
}

// randomName returns prefix and 12 random hex digits.
func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newTable returns a table name of the test's own, dropped (with its
// sequence and its runs table) at cleanup.
func newTable(t testing.TB) string {
	t.Helper()
	return ownTable(t, randomName("pglock_test_"))
}

// ownTable returns table, dropped (with its sequence and its runs table)
// at cleanup.
func ownTable(t testing.TB, table string) string {
	t.Helper()
	d := dsn(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := connectRetry(ctx, d)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+table+", "+table+"_runs; DROP SEQUENCE IF EXISTS "+table+"_token"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return table
}

// connectRetry connects to d, trying again for as long as ctx lets it (the
// server may be restarting).
func connectRetry(ctx context.Context, d string) (*pgx.Conn, error) {
	for {
		conn, err := pgx.Connect(ctx, d)
		if err == nil {
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dbRow is a job's row as the test reads it, or nil.
type dbRow struct {
	PID, BackendPID int
	Host            string
	Status          pigging.RunState
	Error           string
	Token           int64
	Updated         time.Time
}

// readRow reads job's row in table with a connection of its own.
func readRow(t testing.TB, table, job string) *dbRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connectRetry(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var r dbRow
	err = conn.QueryRow(ctx, "SELECT pid, backend_pid, host, status, error, token, updated_at FROM "+table+" WHERE job = $1", job).
		Scan(&r.PID, &r.BackendPID, &r.Host, &r.Status, &r.Error, &r.Token, &r.Updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &r
}

// tableExists reports whether table exists.
func tableExists(t testing.TB, table string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connectRetry(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// sqlExec runs one statement with a connection of its own.
func sqlExec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connectRetry(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// newLocker returns a Locker for job in table, failing the test on error.
func newLocker(t testing.TB, table, job string, opts ...pglock.Option) *pglock.Locker {
	t.Helper()
	l, err := pglock.New(dsn(t), job, append([]pglock.Option{pglock.WithTable(table)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// trackerOpts are the options of the tests' Trackers.
func trackerOpts(l pigging.Locker, job string, extra ...pigging.Option) []pigging.Option {
	return append([]pigging.Option{pigging.WithLocker(l), pigging.WithName(job), pigging.WithOutput(io.Discard)}, extra...)
}

// inspect returns l.Inspect, failing the test on error.
func inspect(t testing.TB, l *pglock.Locker) *pigging.LockStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := l.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// readLog returns the log file's content.
func readLog(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// childOutput is what c wrote, for failure messages.
func childOutput(c *proctest.Child) string {
	return "stdout:\n" + c.Output() + "stderr:\n" + c.Stderr()
}

// isHolding matches the line of a "hold" child that holds the lock.
func isHolding(line string) bool { return strings.HasPrefix(line, "holding token=") }

// dsnPassword returns the test database's password, which no message may
// show.
func dsnPassword(t testing.TB) string {
	t.Helper()
	cc, err := pgx.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	if cc.Password == "" {
		t.Fatal("the test database's DSN has no password to look for")
	}
	return cc.Password
}
