package pglock_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// A server that does not answer within WithConnectTimeout or
// WithQueryTimeout gives an error naming the bound (a *TimeoutError, also
// context.DeadlineExceeded); and Acquire waits for its own bounds, not for
// a shorter deadline on its ctx.
func TestBoundsSayWhichRanOut(t *testing.T) {
	table := newTable(t)
	var u *url.URL
	dsnWith(t, func(x *url.URL) { u = x })

	// Connect: a proxy that forwards nothing.
	proxy := newStallProxy(t, u.Host)
	proxy.stall()
	l, err := pglock.New(dsnWith(t, func(x *url.URL) { x.Host = proxy.addr() }), "bounds",
		pglock.WithTable(table), pglock.WithConnectTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	begun := time.Now()
	_, err = l.Inspect(context.Background())
	checkBound(t, err, "WithConnectTimeout", 500*time.Millisecond)
	if took := time.Since(begun); took > 10*time.Second {
		t.Errorf("Inspect took %v with a 500ms connect bound", took)
	}

	// Query: the job's row locked by another transaction, so the claim
	// (SELECT ... FOR UPDATE) waits.
	logPath := filepath.Join(t.TempDir(), "job.log")
	direct := newLocker(t, table, "bounds")
	_ = pigging.Run(context.Background(), logPath, "", func(context.Context, *pigging.Tracker) error {
		return errors.New("first failure")
	}, trackerOpts(direct, "bounds")...)
	ctx := context.Background()
	blocker, err := connectRetry(ctx, dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close(ctx)
	tx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM "+table+" WHERE job = 'bounds' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	short := newLocker(t, table, "bounds", pglock.WithQueryTimeout(700*time.Millisecond))
	tr, _ := pigging.New(logPath, "", trackerOpts(short, "bounds")...)
	_, err = tr.Start(ctx)
	checkBound(t, err, "WithQueryTimeout", 700*time.Millisecond)
	if errors.Is(err, pigging.ErrLocked) {
		t.Errorf("a bound that ran out reads as a lock refusal: %v", err)
	}

	// A deadline on ctx shorter than the bounds does not cut Acquire: the
	// blocking transaction ends after 1.5 s, and Acquire, called with a
	// 300 ms deadline, gets the lock (stale: the failed run's row).
	rolledBack := make(chan struct{})
	go func() {
		defer close(rolledBack)
		time.Sleep(1500 * time.Millisecond)
		_ = tx.Rollback(context.Background())
	}()
	patient := newLocker(t, table, "bounds")
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	a, err := patient.Acquire(dctx, &pigging.LockInfo{Job: "bounds"})
	<-rolledBack
	if err != nil || a.Lease == nil || !a.Stale {
		t.Fatalf("Acquire with a 300ms deadline = %+v, %v; want the stale lock", a, err)
	}
	if err := a.Lease.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	// A ctx cancelled (not timed out) still ends Acquire.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	if _, err := patient.Acquire(cctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with a cancelled ctx = %v, want context.Canceled", err)
	}
}

func checkBound(t *testing.T, err error, option string, limit time.Duration) {
	t.Helper()
	var te *pglock.TimeoutError
	if !errors.As(err, &te) || te.Option != option || te.Limit != limit {
		t.Fatalf("error = %v; want a *TimeoutError for %s %v", err, option, limit)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within "+limit.String()+" ("+option+")") {
		t.Errorf("error = %v; want it to say the bound and match DeadlineExceeded", err)
	}
	t.Logf("%s: %v", option, err)
}
