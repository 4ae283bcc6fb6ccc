package pglock_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// A job's whole round trip through the table: a run that succeeds leaves
// no row; a failed run leaves its row (status and error) and refuses the
// next run, which changes nothing; Clear lets the next one run; TakeOver
// goes on; the fencing token grows at each acquisition.
func TestRoundTrip(t *testing.T) {
	table := newTable(t)
	l := newLocker(t, table, "nightly", pglock.WithHost("etl-1"))
	dir := t.TempDir()
	logPath := filepath.Join(dir, "etl.log")
	ctx := context.Background()

	// Before any run: free, and Inspect creates nothing.
	if st := inspect(t, l); st.State != pigging.LockFree || st.Holder != nil {
		t.Fatalf("Inspect before any run = %+v", st)
	}
	if st, err := l.Clear(ctx); err != nil || st.State != pigging.LockFree {
		t.Fatalf("Clear before any run = %+v, %v", st, err)
	}
	if tableExists(t, table) {
		t.Fatal("Inspect or Clear created the table")
	}

	var tokens []int64
	err := pigging.Run(ctx, logPath, "", func(ctx context.Context, tr *pigging.Tracker) error {
		tokens = append(tokens, l.Token())
		st := inspect(t, l)
		if st.State != pigging.LockRunning || st.Holder == nil || st.Holder.PID != os.Getpid() || st.Holder.Host != "etl-1" {
			t.Errorf("Inspect during the run = %+v (holder %+v), want running, this pid on etl-1", st, st.Holder)
		}
		if r := readRow(t, table, "nightly"); r == nil || r.Status != pigging.StateRunning || r.Token != l.Token() {
			t.Errorf("row during the run = %+v, want running with token %d", r, l.Token())
		}
		return nil
	}, trackerOpts(l, "nightly")...)
	if err != nil {
		t.Fatal(err)
	}
	if l.Token() != 0 {
		t.Errorf("Token after the run = %d, want 0", l.Token())
	}
	if r := readRow(t, table, "nightly"); r != nil {
		t.Fatalf("a run that succeeded left its row: %+v", r)
	}
	if st := inspect(t, l); st.State != pigging.LockFree {
		t.Fatalf("Inspect after success = %v, want free", st.State)
	}

	err = pigging.Run(ctx, logPath, "", func(ctx context.Context, tr *pigging.Tracker) error {
		tokens = append(tokens, l.Token())
		return errors.New("warehouse down")
	}, trackerOpts(l, "nightly")...)
	if err == nil || err.Error() != "warehouse down" {
		t.Fatalf("failed run = %v", err)
	}
	failed := readRow(t, table, "nightly")
	if failed == nil || failed.Status != pigging.StateFailure || failed.Error != "warehouse down" || failed.Host != "etl-1" {
		t.Fatalf("row after a failed run = %+v", failed)
	}

	// Refused: stale, with a message that says what to do; nothing changes.
	refused, _ := pigging.New(logPath, "", trackerOpts(l, "nightly")...)
	_, err = refused.Start(ctx)
	var lerr *pigging.LockError
	if !errors.As(err, &lerr) || !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("Start after a failed run = %v, want ErrStaleLock", err)
	}
	for _, want := range []string{"on etl-1", "failed: warehouse down",
		"read " + logPath + " on etl-1, then clear the lock to run again: pigging unlock --pg \"$PIGGING_PG_DSN\" --pg-table " + table + " --name nightly (Locker.Clear in Go)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if r := readRow(t, table, "nightly"); *r != *failed {
		t.Errorf("a refused run changed the row:\n%+v\n%+v", failed, r)
	}
	if !strings.Contains(readLog(t, logPath), "ERROR: Locked: previous run pid") {
		t.Errorf("the refusal is not in the failed run's log:\n%s", readLog(t, logPath))
	}

	// Clear, then run again.
	st, err := l.Clear(ctx)
	if err != nil || st.State != pigging.LockStale || st.Holder == nil || st.Holder.Error != "warehouse down" {
		t.Fatalf("Clear = %+v, %v; want the stale row it removed", st, err)
	}
	if st := inspect(t, l); st.State != pigging.LockFree {
		t.Fatalf("Inspect after Clear = %v", st.State)
	}
	if st, err := l.Clear(ctx); err != nil || st.State != pigging.LockFree {
		t.Fatalf("Clear of a free lock = %+v, %v", st, err)
	}

	// Failed again, then taken over.
	_ = pigging.Run(ctx, logPath, "", func(context.Context, *pigging.Tracker) error {
		tokens = append(tokens, l.Token())
		return errors.New("again")
	}, trackerOpts(l, "nightly")...)
	err = pigging.Run(ctx, logPath, "", func(ctx context.Context, tr *pigging.Tracker) error {
		tokens = append(tokens, l.Token())
		return nil
	}, trackerOpts(l, "nightly", pigging.WithStaleLock(pigging.TakeOver))...)
	if err != nil {
		t.Fatalf("TakeOver run = %v", err)
	}
	if !strings.Contains(readLog(t, logPath), "WARN: Took over a stale lock") {
		t.Errorf("log of the run that took over:\n%s", readLog(t, logPath))
	}
	if r := readRow(t, table, "nightly"); r != nil {
		t.Errorf("row after the run that took over succeeded: %+v", r)
	}
	for i := 1; i < len(tokens); i++ {
		if tokens[i] <= tokens[i-1] {
			t.Errorf("tokens %v do not grow", tokens)
		}
	}
	if len(tokens) != 4 {
		t.Errorf("tokens = %v, want 4", tokens)
	}
}

// While a run holds the lock, a second is refused with ErrLocked naming the
// holder; Clear refuses to clear it; Inspect says running.
func TestLiveHolder(t *testing.T) {
	table := newTable(t)
	l := newLocker(t, table, "live", pglock.WithHost("host-a"))
	l2 := newLocker(t, table, "live", pglock.WithHost("host-b"))
	dir := t.TempDir()
	ctx := context.Background()

	first, _ := pigging.New(filepath.Join(dir, "a.log"), "", trackerOpts(l, "live")...)
	if _, err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	second, _ := pigging.New(filepath.Join(dir, "b.log"), "", trackerOpts(l2, "live")...)
	_, err := second.Start(ctx)
	if !errors.Is(err, pigging.ErrLocked) || errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), "on host-a") {
		t.Fatalf("second Start = %v, want ErrLocked naming host-a", err)
	}
	st, err := l2.Clear(ctx)
	var lerr *pigging.LockError
	if !errors.As(err, &lerr) || !errors.Is(err, pigging.ErrLocked) || st.State != pigging.LockRunning {
		t.Fatalf("Clear of a live lock = %+v, %v", st, err)
	}
	if r := readRow(t, table, "live"); r == nil || r.Host != "host-a" || r.Status != pigging.StateRunning {
		t.Fatalf("Clear changed a live run's row: %+v", r)
	}
	// A failure recorded mid-run is in the row at once; the run is still live.
	first.LogException(errors.New("partial load"))
	if r := readRow(t, table, "live"); r == nil || r.Status != pigging.StateFailure || r.Error != "partial load" {
		t.Fatalf("row after LogException = %+v", r)
	}
	_, err = second.Start(ctx)
	if !errors.Is(err, pigging.ErrLocked) || errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), "recorded a failure and is still running") {
		t.Fatalf("Start beside a live failed run = %v", err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := inspect(t, l2); st.State != pigging.LockStale || st.Holder.Host != "host-a" {
		t.Fatalf("after the failed run: %+v", st)
	}
}

// The row keeps at most a few KiB of the error; the log has all of it.
func TestLongErrorIsCut(t *testing.T) {
	table := newTable(t)
	l := newLocker(t, table, "long")
	logPath := filepath.Join(t.TempDir(), "job.log")
	long := strings.Repeat("é", 50_000)
	_ = pigging.Run(context.Background(), logPath, "", func(context.Context, *pigging.Tracker) error {
		return errors.New(long)
	}, trackerOpts(l, "long")...)
	r := readRow(t, table, "long")
	if r == nil || len(r.Error) > 4<<10+100 || !strings.Contains(r.Error, "more bytes; the log has the whole text") {
		t.Fatalf("row error is %d bytes", len(r.Error))
	}
	if !strings.Contains(readLog(t, logPath), long) {
		t.Error("the log does not have the whole error")
	}
}

// The options and arguments New refuses, with what is wrong.
func TestNewRefuses(t *testing.T) {
	const good = "postgres://u:pw@127.0.0.1:5432/db"
	for _, tc := range []struct {
		name, dsn, job string
		opts           []pglock.Option
		want           string
	}{
		{"empty job", good, "", nil, "job name is empty"},
		{"unparsable DSN", "postgres://u:s3cret-pw@127.0.0.1:notaport/db", "j", nil, "DSN cannot be parsed"},
		{"unterminated quote", "host=127.0.0.1 password='s3cret-pw port=5", "j", nil, "DSN cannot be parsed"},
		{"table with a quote", good, "j", []pglock.Option{pglock.WithTable(`locks"; drop`)}, "not a plain SQL name"},
		{"table too deep", good, "j", []pglock.Option{pglock.WithTable("a.b.c")}, "schema.name"},
		{"zero interval", good, "j", []pglock.Option{pglock.WithCheckInterval(0)}, "WithCheckInterval"},
		{"negative timeout", good, "j", []pglock.Option{pglock.WithCheckTimeout(-time.Second)}, "WithCheckTimeout"},
		{"session timeout under two checks", good, "j", []pglock.Option{pglock.WithSessionTimeout(1500 * time.Millisecond)}, "WithSessionTimeout"},
		{"session timeout within a check interval plus the check timeout", good, "j", []pglock.Option{pglock.WithSessionTimeout(pglock.DefaultCheckInterval + pglock.DefaultCheckTimeout)}, "WithSessionTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := pglock.New(tc.dsn, tc.job, tc.opts...)
			if err == nil || l != nil {
				t.Fatalf("New = %v, %v; want an error", l, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error shows the password: %q", err)
			}
		})
	}
	// A cut-off holder stops within a check interval plus the check
	// timeout: a session timeout just longer is accepted.
	if _, err := pglock.New(good, "j", pglock.WithSessionTimeout(pglock.DefaultCheckInterval+pglock.DefaultCheckTimeout+100*time.Millisecond)); err != nil {
		t.Errorf("New with a session timeout just over the check interval plus the check timeout: %v", err)
	}
	l, err := pglock.New(good, "j", pglock.WithTable("ops.job_locks"))
	if err != nil {
		t.Fatal(err)
	}
	if s := l.String(); s != `ops.job_locks row "j" (postgres://u@127.0.0.1:5432/db)` || strings.Contains(s, "pw") {
		t.Errorf("String = %q", s)
	}
}

// The DDL on the docs page is the one the first run executes (its names
// unquoted, which for these lower-case names means the same).
func TestDocsHaveTheDDL(t *testing.T) {
	page := filepath.Join("..", "docs", "several-hosts.md")
	readme, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(pglock.DDL(pglock.DefaultTable), `"`, "")
	if !strings.Contains(string(readme), "```sql\n"+want+"```\n") {
		t.Errorf("%s does not carry the DDL word for word:\n%s", page, want)
	}
}
