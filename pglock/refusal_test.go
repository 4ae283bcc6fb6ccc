package pglock_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// A run refused on host B after host A's run failed names host A's log
// and host, never B's own log, and says how to clear the lock (pigging
// unlock --pg, or Locker.Clear), never the password or the DSN; B's own
// log has the same ERROR. The refusal changes nothing.
func TestRefusalNamesTheFailedRunsHostAndLog(t *testing.T) {
	table := newTable(t)
	a := newLocker(t, table, "nightly", pglock.WithHost("host-a"))
	b := newLocker(t, table, "nightly", pglock.WithHost("host-b"))
	logA := filepath.Join(t.TempDir(), "etl-hostA.log")
	logB := filepath.Join(t.TempDir(), "etl-hostB.log")
	ctx := context.Background()
	_ = pigging.Run(ctx, logA, "", func(context.Context, *pigging.Tracker) error {
		return errors.New("warehouse unreachable")
	}, trackerOpts(a, "nightly")...)
	before := readRow(t, table, "nightly")

	tr, _ := pigging.New(logB, "", trackerOpts(b, "nightly")...)
	_, err := tr.Start(ctx)
	if !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("Start on host B = %v, want ErrStaleLock", err)
	}
	want := "; read " + logA + ` on host-a, then clear the lock to run again: pigging unlock --pg "$PIGGING_PG_DSN" --pg-table ` +
		table + " --name nightly (Locker.Clear in Go)"
	msg := err.Error()
	t.Logf("refusal: %s", msg)
	if !strings.Contains(msg, "previous run pid "+strconv.Itoa(os.Getpid())+" on host-a (job nightly)") || !strings.HasSuffix(msg, want) {
		t.Errorf("refusal = %q\nwant it to name host A's run and end %q", msg, want)
	}
	for _, bad := range []string{logB, dsnPassword(t), dsn(t), "delete"} {
		if strings.Contains(msg, bad) {
			t.Errorf("refusal %q holds %q", msg, bad)
		}
	}
	if got := readLog(t, logB); !strings.Contains(got, "ERROR: Locked: previous run") || !strings.Contains(got, want) || strings.Contains(got, dsnPassword(t)) {
		t.Errorf("host B's log:\n%s\nwant its ERROR to say %q", got, want)
	}
	if r := readRow(t, table, "nightly"); r == nil || *r != *before {
		t.Errorf("the refusal changed the row: %+v, was %+v", r, before)
	}
}

// ClearAdvice names the job (and the table when it is not the default),
// quoted for a shell where it needs it, and the DSN's variable, never the
// DSN or its password.
func TestClearAdvice(t *testing.T) {
	const d = "postgres://etl:s3cret-pw@db.internal:5432/etl"
	for _, tc := range []struct {
		job  string
		opts []pglock.Option
		want string
	}{
		{"nightly", nil, `pigging unlock --pg "$PIGGING_PG_DSN" --name nightly (Locker.Clear in Go)`},
		{"nightly sync's", nil, `pigging unlock --pg "$PIGGING_PG_DSN" --name 'nightly sync'\''s' (Locker.Clear in Go)`},
		{"j", []pglock.Option{pglock.WithTable("ops.job_locks")}, `pigging unlock --pg "$PIGGING_PG_DSN" --pg-table ops.job_locks --name j (Locker.Clear in Go)`},
	} {
		l, err := pglock.New(d, tc.job, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.ClearAdvice(); got != tc.want || strings.Contains(got, "s3cret") || strings.Contains(got, "db.internal") {
			t.Errorf("ClearAdvice of %q = %q, want %q", tc.job, got, tc.want)
		}
	}
}
