package pigging_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/middleware"
	"github.com/pigging-go/pigging/pigging"
)

// Every run that starts, and every start the lock refuses, adds one
// entry, newest first, with what its stages counted.
func TestRunHistoryEntries(t *testing.T) {
	e := newUnitEnv(t)
	extract := middleware.Extract("customers", func(ctx context.Context) ([]string, error) {
		return []string{"a", "b", "c"}, nil
	})
	load := middleware.Load("warehouse", func(ctx context.Context, rows []string) error { return nil })

	tr, ctx := e.start(t)
	rows, err := extract(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := load(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := load(ctx, rows[:1]); err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}

	tr, _ = e.start(t)
	tr.LogException(errors.New("warehouse unreachable"))
	_ = tr.Stop()

	_, err = e.tracker(t).Start(context.Background())
	if !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("third Start: %v, want ErrStaleLock", err)
	}

	runs, err := pigging.ReadHistory(e.lock, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Fatalf("history holds %d entries, want 3: %+v", len(runs), runs)
	}
	refused, failed, ok := runs[0], runs[1], runs[2]
	if refused.Result != pigging.StateSkip || !strings.Contains(refused.Error, "warehouse unreachable") || refused.TraceID == "" {
		t.Errorf("refused start's entry: %+v", refused)
	}
	if failed.Result != pigging.StateFailure || failed.Error != "warehouse unreachable" || failed.Ended.Before(failed.Started) {
		t.Errorf("failed run's entry: %+v", failed)
	}
	logAbs, _ := filepath.Abs(e.log)
	host, _ := os.Hostname()
	if ok.Result != pigging.StateSuccess || ok.Error != "" || ok.Job != unitJob || ok.Host != host || ok.PID != os.Getpid() || ok.Log != logAbs || ok.Duration <= 0 {
		t.Errorf("successful run's entry: %+v", ok)
	}
	spans := unitSpansNamed(e.rec, runSpanName(unitJob))
	if len(spans) != 3 || ok.TraceID != spans[0].SpanContext().TraceID().String() || ok.SpanID != spans[0].SpanContext().SpanID().String() {
		t.Errorf("the entry's trace %s/%s is not the run span's", ok.TraceID, ok.SpanID)
	}
	want := []pigging.StageTotal{
		{Kind: "extract", Name: "customers", Out: 3, Calls: 1},
		{Kind: "load", Name: "warehouse", In: 4, Calls: 2},
	}
	if len(ok.Stages) != 2 || ok.Stages[0] != want[0] || ok.Stages[1] != want[1] {
		t.Errorf("stages %+v, want %+v", ok.Stages, want)
	}
}

// WithHistory(0) writes no history; WithHistory(n) keeps the last n.
func TestRunHistoryOption(t *testing.T) {
	e := newUnitEnv(t)
	for range 3 {
		tr, _ := e.start(t, pigging.WithHistory(0))
		_ = tr.Stop()
	}
	if _, err := os.Lstat(pigging.HistoryPath(e.lock)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("WithHistory(0) left a history file: %v", err)
	}
	for range 5 {
		tr, _ := e.start(t, pigging.WithHistory(2))
		_ = tr.Stop()
	}
	if runs, err := pigging.ReadHistory(e.lock, 0); err != nil || len(runs) != 2 {
		t.Errorf("WithHistory(2) after 5 runs: %d entries (%v), want 2", len(runs), err)
	}
	if _, err := pigging.New(e.log, e.lock, pigging.WithHistory(-1)); err == nil || !strings.Contains(err.Error(), "WithHistory") {
		t.Errorf("WithHistory(-1): %v, want an error naming the option", err)
	}
}

// Starts refused together each leave their entry.
func TestRunHistoryConcurrentRefusals(t *testing.T) {
	e := newUnitEnv(t)
	holder, _ := e.start(t)
	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := e.tracker(t).Start(context.Background()); !errors.Is(err, pigging.ErrLocked) {
				t.Errorf("Start beside a live run: %v, want ErrLocked", err)
			}
		})
	}
	wg.Wait()
	if err := holder.Stop(); err != nil {
		t.Fatal(err)
	}
	runs, err := pigging.ReadHistory(e.lock, 0)
	if err != nil {
		t.Fatal(err)
	}
	skips := 0
	for _, r := range runs {
		if r.Result == pigging.StateSkip {
			skips++
		}
	}
	if len(runs) != n+1 || skips != n || runs[0].Result != pigging.StateSuccess {
		t.Errorf("history after %d refusals and one run: %d entries, %d skips, newest %s", n, len(runs), skips, runs[0].Result)
	}
}

// A history that cannot be written never changes the run's outcome: the
// run succeeds and its log says why the history is missing.
func TestRunHistoryUnwritable(t *testing.T) {
	e := newUnitEnv(t)
	pigtest.Mkdir(t, pigging.HistoryPath(e.lock))
	tr, _ := e.start(t)
	tr.Info("work")
	if err := tr.Stop(); err != nil {
		t.Fatalf("Stop with an unwritable history: %v, want nil", err)
	}
	if _, err := os.Lstat(e.lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock was kept after a successful run whose history failed: %v", err)
	}
	recs := unitRecords(t, e.log)
	if len(recs) < 2 || recs[len(recs)-2].level != "WARN" || !strings.Contains(recs[len(recs)-2].text, "The run history was not written") {
		t.Errorf("log does not end with the history's WARN before TOTAL SCRIPT TIME: %+v", recs)
	}
}
