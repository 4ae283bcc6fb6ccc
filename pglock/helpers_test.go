package pglock_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// Environment of the tests.
const (
	envDSN   = "PIGGING_PG_DSN" // the test database; the tests that need it skip without it
	envCtl   = "PIGGING_PG_CTL" // a pg_ctl command line for the test cluster; "restart -m fast" is added
	envChild = "PGLOCK_TEST_CHILD"
)

// childScenarios are the programs a child process can run, by name.
var childScenarios = map[string]func() int{}

func TestMain(m *testing.M) {
	if name := os.Getenv(envChild); name != "" {
		f, ok := childScenarios[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child scenario %q\n", name)
			os.Exit(2)
		}
		os.Exit(f())
	}
	goleak.VerifyTestMain(m)
}

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
// sequence) at cleanup.
func newTable(t testing.TB) string {
	t.Helper()
	d := dsn(t)
	table := randomName("pglock_test_")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := connectRetry(ctx, d)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+table+"; DROP SEQUENCE IF EXISTS "+table+"_token"); err != nil {
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
	Host, Status    string
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

// child is a child process: the test binary again, running a scenario.
type child struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// startChild starts scenario with env added. At cleanup a child still
// running is killed.
func startChild(t testing.TB, scenario string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+scenario, "GORACE=atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	c := &child{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = lockedBuffer{&c.mu, &c.out}
	cmd.Stderr = lockedBuffer{&c.mu, &c.out}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting child %s: %v", scenario, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// output returns what the child has written so far.
func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// wait waits at most d for the child to exit and returns its exit code;
// it fails the test when the child does not exit in time.
func (c *child) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Fatalf("child did not exit within %v; output:\n%s", d, c.output())
	}
	return c.cmd.ProcessState.ExitCode()
}

// waitOutput waits at most d for the child's output to contain s.
func (c *child) waitOutput(t testing.TB, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(c.output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("child did not print %q within %v; output:\n%s", s, d, c.output())
		}
		select {
		case <-c.done:
			if !strings.Contains(c.output(), s) {
				t.Fatalf("child exited without printing %q; output:\n%s", s, c.output())
			}
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Helpers of the child processes.

func childEnvInt(name string, def int) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		return def
	}
	return n
}

func childDie(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "child: "+format+"\n", args...)
	os.Exit(99)
}

func childTouch(path string) {
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		childDie("%v", err)
	}
}

func childAppend(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		childDie("%v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		childDie("%v", err)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func waitFile(path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !fileExists(path) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

func countFiles(dir, prefix string) int {
	m, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
	return len(m)
}
