package pglock_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// entry returns a history entry of run i: its pid is 1000+i, so that the
// order of entries read back shows.
func entry(i int, result pigging.RunState) *pigging.RunEntry {
	started := time.Date(2026, 12, 1, 2, 0, i, 0, time.UTC)
	return &pigging.RunEntry{Job: "ignored", Host: "ignored", PID: 1000 + i, Started: started,
		Ended: started.Add(1500 * time.Millisecond), Duration: 1.5, Result: result}
}

// appendRun calls l.AppendRun, failing the test on error.
func appendRun(t *testing.T, l *pglock.Locker, e *pigging.RunEntry, keep int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.AppendRun(ctx, e, keep); err != nil {
		t.Fatal(err)
	}
}

// runs calls l.Runs, failing the test on error.
func runs(t *testing.T, l *pglock.Locker, n int) []pigging.RunEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := l.Runs(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func pids(es []pigging.RunEntry) []int {
	var out []int
	for _, e := range es {
		out = append(out, e.PID)
	}
	return out
}

// Two hosts append the runs of one job; a third Locker, with no host of
// its own, reads them all back, newest first, every field as written.
func TestHistoryTwoHosts(t *testing.T) {
	table := newTable(t)
	a := newLocker(t, table, "nightly", pglock.WithHost("host-a"))
	b := newLocker(t, table, "nightly", pglock.WithHost("host-b"))
	reader := newLocker(t, table, "nightly")

	if got := runs(t, reader, 0); len(got) != 0 {
		t.Fatalf("Runs before any run = %+v", got)
	}
	if tableExists(t, table+"_runs") {
		t.Fatal("Runs created the runs table")
	}

	code := 3
	full := entry(0, pigging.StateFailure)
	full.Error = "warehouse down"
	full.ExitCode, full.ExitSource = &code, pigging.ExitSourceCommand
	full.TraceID, full.SpanID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	full.Log = "/var/log/etl-a.log"
	full.Stages = []pigging.StageTotal{{Kind: "extract", Name: "orders", In: 0, Out: 120, Calls: 1},
		{Kind: "load", Name: "warehouse", In: 120, Out: 0, Calls: 2, Failed: 1}}
	appendRun(t, a, full, 100)
	skip := entry(1, pigging.StateSkip)
	skip.Error = "pigging: previous run ... failed"
	skip.Log = "/var/log/etl-b.log"
	appendRun(t, b, skip, 100)
	appendRun(t, a, entry(2, pigging.StateSuccess), 100)

	got := runs(t, reader, 0)
	if fmt.Sprint(pids(got)) != "[1002 1001 1000]" {
		t.Fatalf("Runs = pids %v, want newest first [1002 1001 1000]", pids(got))
	}
	for i, host := range []string{"host-a", "host-b", "host-a"} {
		if got[i].Host != host || got[i].Job != "nightly" {
			t.Errorf("entry %d: host %q job %q, want %q and the Locker's job", i, got[i].Host, got[i].Job, host)
		}
	}
	f := got[2]
	if !f.Started.Equal(full.Started) || !f.Ended.Equal(full.Ended) || f.Duration != 1.5 || f.Result != pigging.StateFailure ||
		f.Error != "warehouse down" || f.ExitCode == nil || *f.ExitCode != 3 || f.ExitSource != "command" ||
		f.TraceID != full.TraceID || f.SpanID != full.SpanID || f.Log != full.Log ||
		fmt.Sprint(f.Stages) != fmt.Sprint(full.Stages) {
		t.Errorf("entry read back:\n%+v\nwant\n%+v", f, full)
	}
	if s := got[1]; s.Result != pigging.StateSkip || s.ExitCode != nil || s.Stages != nil || s.Log != "/var/log/etl-b.log" {
		t.Errorf("refused run's entry read back: %+v", s)
	}
	if got := runs(t, reader, 2); fmt.Sprint(pids(got)) != "[1002 1001]" {
		t.Errorf("Runs(2) = pids %v, want [1002 1001]", pids(got))
	}
	// Another job in the same table has a history of its own.
	if got := runs(t, newLocker(t, table, "other"), 0); len(got) != 0 {
		t.Errorf("another job's Runs = %+v", got)
	}
}

// With keep 3, ten appends leave the last three; another job's entries in
// the same table are untouched, and a run without a limit keeps them all.
func TestHistoryPrunes(t *testing.T) {
	table := newTable(t)
	l := newLocker(t, table, "pruned")
	other := newLocker(t, table, "other")
	for i := range 5 {
		appendRun(t, other, entry(i, pigging.StateSuccess), 100)
	}
	for i := range 10 {
		appendRun(t, l, entry(i, pigging.StateSuccess), 3)
		if n := len(runs(t, l, 0)); n != min(i+1, 3) {
			t.Fatalf("after %d appends with keep 3: %d entries", i+1, n)
		}
	}
	if got := runs(t, l, 0); fmt.Sprint(pids(got)) != "[1009 1008 1007]" {
		t.Errorf("Runs after 10 appends with keep 3 = pids %v, want [1009 1008 1007]", pids(got))
	}
	if got := runs(t, other, 0); fmt.Sprint(pids(got)) != "[1004 1003 1002 1001 1000]" {
		t.Errorf("the other job's entries = pids %v, want its 5 untouched", pids(got))
	}
	appendRun(t, l, entry(10, pigging.StateSuccess), 0)
	if got := runs(t, l, 0); fmt.Sprint(pids(got)) != "[1010 1009 1008 1007]" {
		t.Errorf("after an append with keep 0 (no pruning) = pids %v", pids(got))
	}
}

// Many appends at once, from Lockers of two hosts: none lost, none torn,
// and the pruning of one never deletes beyond keep.
func TestHistoryConcurrentAppends(t *testing.T) {
	table := newTable(t)
	ls := []*pglock.Locker{newLocker(t, table, "busy", pglock.WithHost("host-a")), newLocker(t, table, "busy", pglock.WithHost("host-b"))}
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- ls[i%2].AppendRun(context.Background(), entry(i, pigging.StateSuccess), 100)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := runs(t, ls[0], 0); len(got) != n {
		t.Fatalf("%d concurrent appends left %d entries", n, len(got))
	}
}

// The error is cut at pigging.MaxHistoryError bytes, on a character
// boundary, saying so.
func TestHistoryLongErrorIsCut(t *testing.T) {
	table := newTable(t)
	l := newLocker(t, table, "long")
	e := entry(0, pigging.StateFailure)
	e.Error = strings.Repeat("é", 10_000)
	appendRun(t, l, e, 100)
	got := runs(t, l, 1)
	if len(got) != 1 || len(got[0].Error) > pigging.MaxHistoryError+100 ||
		!strings.HasPrefix(got[0].Error, strings.Repeat("é", pigging.MaxHistoryError/2)) ||
		!strings.Contains(got[0].Error, "more bytes; the log has the whole text") {
		t.Fatalf("entry's error is %d bytes: %.80q...", len(got[0].Error), got[0].Error)
	}
}

// AppendRun is bounded by WithQueryTimeout, whatever its ctx, and a
// failure is an error saying what failed; an unreachable server is one
// naming the server, never the password.
func TestHistoryFailures(t *testing.T) {
	table := newTable(t)
	l := newLocker(t, table, "bounded")
	appendRun(t, l, entry(0, pigging.StateSuccess), 100) // the tables exist

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
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE "+table+"_runs IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	short := newLocker(t, table, "bounded", pglock.WithQueryTimeout(500*time.Millisecond))
	begun := time.Now()
	err = short.AppendRun(ctx, entry(1, pigging.StateSuccess), 100)
	checkBound(t, err, "WithQueryTimeout", 500*time.Millisecond)
	if !strings.Contains(err.Error(), "appending to the run history") {
		t.Errorf("error %q does not say what failed", err)
	}
	if took := time.Since(begun); took > 10*time.Second {
		t.Errorf("AppendRun took %v with a 500ms query bound", took)
	}
	_, err = short.Runs(ctx, 0)
	checkBound(t, err, "WithQueryTimeout", 500*time.Millisecond)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := runs(t, l, 0); len(got) != 1 {
		t.Errorf("after the append that ran out: %d entries, want the first only", len(got))
	}

	down, err := pglock.New(dsnWith(t, func(u *url.URL) { u.Host = "127.0.0.1:" + freePort(t) }), "bounded", pglock.WithTable(table))
	if err != nil {
		t.Fatal(err)
	}
	err = down.AppendRun(ctx, entry(2, pigging.StateSuccess), 100)
	if err == nil || !strings.Contains(err.Error(), "cannot connect to") || strings.Contains(err.Error(), dsnPassword(t)) {
		t.Errorf("AppendRun with the server down = %v; want the server named, not the password", err)
	}
	if _, err := down.Runs(ctx, 0); err == nil || strings.Contains(err.Error(), dsnPassword(t)) {
		t.Errorf("Runs with the server down = %v", err)
	}
	err = l.AppendRun(ctx, nil, 100)
	var te *pglock.TimeoutError
	if err == nil || errors.As(err, &te) {
		t.Errorf("AppendRun(nil) = %v, want an error that is no timeout", err)
	}
}
