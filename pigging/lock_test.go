package pigging_test

// In-process lock behaviour: flock locks belong to an open file
// description, so two Trackers in one process conflict as two processes do.
// The cross-process tests are in process_*_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/pigging"
)

// unitLockInfo reads the lock file's JSON.
func unitLockInfo(t testing.TB, path string) pigging.LockInfo {
	t.Helper()
	var info pigging.LockInfo
	if err := json.Unmarshal([]byte(unitReadFile(t, path)), &info); err != nil {
		t.Fatalf("lock file is not JSON: %v\n%s", err, unitReadFile(t, path))
	}
	return info
}

func TestLockFileWhileRunning(t *testing.T) {
	e := newUnitEnv(t)
	before := time.Now()
	_, ctx := e.start(t)
	raw := unitReadFile(t, e.lock)
	var fields map[string]any
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatalf("lock file is not JSON: %v\n%s", err, raw)
	}
	for _, k := range []string{"pid", "host", "job", "started", "trace_id", "span_id", "status"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("lock file has no %q: %s", k, raw)
		}
	}
	if _, ok := fields["error"]; ok {
		t.Errorf("a running lock has an error: %s", raw)
	}
	started, _ := fields["started"].(string)
	if ts, err := time.Parse(time.RFC3339Nano, started); err != nil || !strings.HasSuffix(started, "Z") || ts.Before(before.Add(-time.Millisecond)) || ts.After(time.Now()) {
		t.Errorf("started = %q (%v), want RFC 3339 UTC time of the start", started, err)
	}
	info := unitLockInfo(t, e.lock)
	host, _ := os.Hostname()
	sc := pigging.FromContext(ctx)
	if sc == nil {
		t.Fatal("no Tracker in Start's ctx")
	}
	if info.PID != os.Getpid() || info.Host != host || info.Job != unitJob || info.Status != pigging.StateRunning {
		t.Errorf("lock info = %+v, want pid %d host %q job %q status running", info, os.Getpid(), host, unitJob)
	}
	if len(info.TraceID) != 32 || len(info.SpanID) != 16 {
		t.Errorf("lock info trace/span ids = %q/%q", info.TraceID, info.SpanID)
	}
}

func TestSecondTrackerIsLocked(t *testing.T) {
	e := newUnitEnv(t)
	before := time.Now()
	first, _ := e.start(t)
	first.Info("first run, line one")
	first.Info("first run, line two", "rows", 2)

	second := e.tracker(t)
	_, err := second.Start(context.Background())
	if !errors.Is(err, pigging.ErrLocked) {
		t.Fatalf("second Start = %v, want ErrLocked", err)
	}
	if errors.Is(err, pigging.ErrStaleLock) {
		t.Errorf("a lock held by a live run reads as stale: %v", err)
	}
	var le *pigging.LockError
	if !errors.As(err, &le) {
		t.Fatalf("second Start error %T is not a *LockError", err)
	}
	host, _ := os.Hostname()
	h := le.Holder
	if h == nil {
		t.Fatal("LockError.Holder is nil")
	}
	firstSpan := unitLockInfo(t, e.lock)
	if h.PID != os.Getpid() || h.Host != host || h.Job != unitJob || h.Status != pigging.StateRunning {
		t.Errorf("holder = %+v", *h)
	}
	if h.Started.Before(before.Add(-time.Millisecond)) || h.Started.After(time.Now()) {
		t.Errorf("holder started %v, want the first run's start", h.Started)
	}
	if h.TraceID != firstSpan.TraceID || h.SpanID != firstSpan.SpanID || h.TraceID == "" {
		t.Errorf("holder trace %s/%s, want %s/%s", h.TraceID, h.SpanID, firstSpan.TraceID, firstSpan.SpanID)
	}
	if le.Path != e.lock || le.LogPath != e.log {
		t.Errorf("LockError paths = %q, %q", le.Path, le.LogPath)
	}
	msg := err.Error()
	for _, want := range []string{e.lock, "pid " + strconv.Itoa(os.Getpid()), host, unitJob, h.Started.UTC().Format(time.RFC3339), "wait"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}

	first.Info("first run, line three")
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	got := unitBetween(t, unitRecords(t, e.log))
	if len(got) != 4 {
		t.Fatalf("first run's log:\n%s", strings.Join(got, "\n"))
	}
	if got[0] != "INFO: first run, line one" || got[1] != "INFO: first run, line two rows=2" || got[3] != "INFO: first run, line three" {
		t.Errorf("first run's lines are not whole:\n%s", strings.Join(got, "\n"))
	}
	wantLocked := "WARN: Refused a second run (pid " + strconv.Itoa(os.Getpid()) + "): " + strings.TrimPrefix(msg, "pigging: ")
	if !strings.HasPrefix(got[2], wantLocked) || !strings.Contains(got[2], "holder_pid="+strconv.Itoa(os.Getpid())) {
		t.Errorf("Locked line = %q, want it to start %q and name holder_pid", got[2], wantLocked)
	}
	unitNoFile(t, e.lock)
}

// unitFail runs a Tracker that fails with msg and stops, leaving its lock.
func unitFail(t *testing.T, e *unitEnv, msg string, extra ...pigging.Option) pigging.LockInfo {
	t.Helper()
	tr, _ := e.start(t, extra...)
	tr.Info("working")
	_ = tr.LogException(errors.New(msg))
	if err := tr.Stop(); err != nil {
		t.Fatalf("Stop of a failed run: %v", err)
	}
	return unitLockInfo(t, e.lock)
}

func TestFailedRunKeepsLock(t *testing.T) {
	e := newUnitEnv(t)
	info := unitFail(t, e, "load warehouse: connection refused")
	if info.Status != pigging.StateFailure || info.Error != "load warehouse: connection refused" || info.PID != os.Getpid() || info.TraceID == "" {
		t.Errorf("lock after a failed run = %+v", info)
	}
	lockBefore := unitReadFile(t, e.lock)
	logBefore := unitReadFile(t, e.log)

	next := e.tracker(t)
	_, err := next.Start(context.Background())
	if !errors.Is(err, pigging.ErrStaleLock) || !errors.Is(err, pigging.ErrLocked) {
		t.Fatalf("Start after a failed run = %v, want ErrStaleLock and ErrLocked", err)
	}
	var le *pigging.LockError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.Status != pigging.StateFailure {
		t.Fatalf("error %#v does not carry the failed holder", err)
	}
	msg := err.Error()
	for _, want := range []string{"pid " + strconv.Itoa(os.Getpid()), "failed", "load warehouse: connection refused", "pigging unlock --lock " + e.lock, e.log} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if got := unitReadFile(t, e.lock); got != lockBefore {
		t.Errorf("a refused Start changed the lock file:\n%s\nwant:\n%s", got, lockBefore)
	}
	logAfter := unitReadFile(t, e.log)
	if !strings.HasPrefix(logAfter, logBefore) {
		t.Fatalf("a refused Start truncated the log:\n%s", logAfter)
	}
	added := unitRecordsOf(t, logAfter[len(logBefore):])
	if len(added) != 1 || added[0].level != "ERROR" || !strings.HasPrefix(added[0].text, "Locked: previous run pid ") {
		t.Errorf("a refused Start appended %q, want one ERROR: Locked line", unitTexts(added))
	}
	// Refused again and again: the lock stays until a person deletes it.
	if _, err := next.Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) {
		t.Errorf("second try = %v, want ErrStaleLock", err)
	}
	if err := os.Remove(e.lock); err != nil {
		t.Fatal(err)
	}
	if _, err := next.Start(context.Background()); err != nil {
		t.Fatalf("Start once the lock file is deleted: %v", err)
	}
	if err := next.Stop(); err != nil {
		t.Fatal(err)
	}
	unitNoFile(t, e.lock)
}

// unitRecordsOf parses log text that is not in a file.
func unitRecordsOf(t *testing.T, text string) []unitRecord {
	t.Helper()
	p := filepath.Join(t.TempDir(), "part.log")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return unitRecords(t, p)
}

func TestTakeOver(t *testing.T) {
	e := newUnitEnv(t)
	prev := unitFail(t, e, "boom")
	prevLog := unitReadFile(t, e.log)

	tr, _ := e.start(t, pigging.WithStaleLock(pigging.TakeOver))
	if got := unitReadFile(t, e.log+".prev"); got != prevLog {
		t.Errorf("%s.prev =\n%s\nwant the previous run's log:\n%s", filepath.Base(e.log), got, prevLog)
	}
	info := unitLockInfo(t, e.lock)
	if info.Status != pigging.StateRunning || info.Error != "" || info.TraceID == prev.TraceID {
		t.Errorf("lock after a take-over = %+v, want this run's", info)
	}
	tr.Info("fresh work")
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	got := unitBetween(t, unitRecords(t, e.log))
	if len(got) != 2 {
		t.Fatalf("log after a take-over:\n%s", strings.Join(got, "\n"))
	}
	warn := got[0]
	for _, want := range []string{
		"WARN: Took over a stale lock: previous run pid " + strconv.Itoa(prev.PID),
		"failed: boom",
		"previous_pid=" + strconv.Itoa(prev.PID),
		"previous_trace_id=" + prev.TraceID,
		"previous_log=" + e.log + ".prev",
	} {
		if !strings.Contains(warn, want) {
			t.Errorf("WARN line %q does not say %q", warn, want)
		}
	}
	if got[1] != "INFO: fresh work" {
		t.Errorf("record after the WARN = %q", got[1])
	}
	unitNoFile(t, e.lock)

	// One generation: a second take-over replaces the .prev file.
	unitFail(t, e, "boom again")
	second := unitReadFile(t, e.log)
	tr2, _ := e.start(t, pigging.WithStaleLock(pigging.TakeOver))
	if err := tr2.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := unitReadFile(t, e.log+".prev"); got != second {
		t.Errorf(".prev after a second take-over holds the older log")
	}
}

func TestTakeOverWithoutPreviousLog(t *testing.T) {
	e := newUnitEnv(t)
	unitFail(t, e, "boom")
	if err := os.Remove(e.log); err != nil {
		t.Fatal(err)
	}
	tr, _ := e.start(t, pigging.WithStaleLock(pigging.TakeOver))
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	unitNoFile(t, e.log+".prev")
	got := unitBetween(t, unitRecords(t, e.log))
	if len(got) != 1 || strings.Contains(got[0], "previous_log=") {
		t.Errorf("WARN without a previous log = %q, want no previous_log", got)
	}
}

func TestTakeOverThatCannotKeepThePreviousLog(t *testing.T) {
	// <log>.prev is a directory with something in it: the previous log
	// cannot be kept, so Start gives up and puts the stale lock back.
	e := newUnitEnv(t)
	unitFail(t, e, "boom")
	if err := os.MkdirAll(filepath.Join(e.log+".prev", "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := unitSnapshot(t, e.dir)
	tr := e.tracker(t, pigging.WithStaleLock(pigging.TakeOver))
	_, err := tr.Start(context.Background())
	var pe *pigging.PathError
	if !errors.As(err, &pe) || pe.Path != e.log || !strings.Contains(err.Error(), ".prev") {
		t.Fatalf("Start = %v, want a *PathError for the log naming .prev", err)
	}
	if after := unitSnapshot(t, e.dir); after != before {
		t.Errorf("a failed take-over changed the directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if info := unitLockInfo(t, e.lock); info.Status != pigging.StateFailure || info.Error != "boom" {
		t.Errorf("lock after a failed take-over = %+v, want the failed run's", info)
	}
	if err := tr.Stop(); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Stop after a failed Start = %v, want ErrNotStarted", err)
	}
}

func TestStaleLockContent(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	tests := []struct {
		name       string
		content    string
		wantHolder bool
		wantInMsg  []string
	}{
		{"empty", "", false, []string{"does not say which run", "empty"}},
		{"garbage", "locked by the python version\n", false, []string{"does not say which run", "not pigging's JSON"}},
		{"json naming nothing", "{}\n", false, []string{"names no process"}},
		{"json of another shape", `["pid", 1]`, false, []string{"not pigging's JSON"}},
		{"running holder that died", `{"pid":4242,"host":"h1","job":"old","started":"2026-01-02T03:04:05Z","status":"running"}`, true, []string{"pid 4242", "on h1", "job old", "2026-01-02T03:04:05Z", "died without stopping"}},
		{"cancelled holder", `{"pid":4242,"status":"cancelled","error":"context canceled"}`, true, []string{"pid 4242", "was cancelled: context canceled"}},
		{"fields from a future version", `{"pid":4242,"host":"h1","job":"old","started":"2026-01-02T03:04:05.123456789Z","status":"failed","error":"disk full","attempt":3,"owner":{"team":"data"},"tags":["a"]}`, true, []string{"pid 4242", "failed: disk full"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newUnitEnv(t)
			if err := os.WriteFile(e.lock, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(e.lock, old, old); err != nil {
				t.Fatal(err)
			}
			const oldLog = "2026-01-02 03:04:05.000 | INFO: the old run\n"
			if err := os.WriteFile(e.log, []byte(oldLog), 0o644); err != nil {
				t.Fatal(err)
			}

			tr := e.tracker(t)
			_, err := tr.Start(context.Background())
			if !errors.Is(err, pigging.ErrStaleLock) || !errors.Is(err, pigging.ErrLocked) {
				t.Fatalf("Start = %v, want ErrStaleLock", err)
			}
			var le *pigging.LockError
			if !errors.As(err, &le) {
				t.Fatalf("%T is not a *LockError", err)
			}
			if (le.Holder != nil) != tt.wantHolder {
				t.Errorf("Holder = %+v, want one: %v", le.Holder, tt.wantHolder)
			}
			if tt.wantHolder && (le.Holder.PID != 4242 || le.Holder.Host == "" && tt.name != "cancelled holder") {
				t.Errorf("Holder = %+v", le.Holder)
			}
			for _, want := range append(tt.wantInMsg, "pigging unlock --lock "+e.lock) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if got := unitReadFile(t, e.lock); got != tt.content {
				t.Errorf("a refused Start changed the lock file to %q", got)
			}
			// Not even rewritten: an empty lock file that looks fresh is one
			// another run is about to fill, and makes the next Start wait.
			if fi, err := os.Stat(e.lock); err != nil || !fi.ModTime().Equal(old) {
				t.Errorf("a refused Start rewrote the lock file (mtime %v, want %v)", fi.ModTime(), old)
			}
			logAfter := unitReadFile(t, e.log)
			if !strings.HasPrefix(logAfter, oldLog) || strings.Count(logAfter, "\n") != 2 || !strings.Contains(logAfter, "| ERROR: Locked: ") {
				t.Errorf("log after a refused Start:\n%s", logAfter)
			}

			// TakeOver goes on at once, says what it took over, and keeps the log.
			began := time.Now()
			tr2, _ := e.start(t, pigging.WithStaleLock(pigging.TakeOver))
			if d := time.Since(began); d > time.Second {
				t.Errorf("Start with TakeOver took %v", d)
			}
			if got := unitReadFile(t, e.log+".prev"); got != logAfter {
				t.Errorf(".prev = %q, want %q", got, logAfter)
			}
			if err := tr2.Stop(); err != nil {
				t.Fatal(err)
			}
			got := unitBetween(t, unitRecords(t, e.log))
			if len(got) != 1 || !strings.HasPrefix(got[0], "WARN: Took over a stale lock: ") {
				t.Errorf("log after a take-over = %q", got)
			}
			if tt.wantHolder && !strings.Contains(got[0], "previous_pid=4242") {
				t.Errorf("WARN line %q does not name the previous pid", got[0])
			}
			unitNoFile(t, e.lock)
		})
	}
}

func TestSuccessfulStopRemovesLock(t *testing.T) {
	e := newUnitEnv(t)
	for i := range 3 {
		tr, _ := e.start(t)
		if _, err := os.Stat(e.lock); err != nil {
			t.Fatalf("run %d: no lock file while running: %v", i, err)
		}
		tr.Error("an ERROR line does not fail the run")
		if err := tr.Stop(); err != nil {
			t.Fatalf("run %d: Stop: %v", i, err)
		}
		unitNoFile(t, e.lock)
	}
}

func TestCancelledRunKeepsLock(t *testing.T) {
	for _, policy := range []pigging.StalePolicy{pigging.Refuse, pigging.TakeOver} {
		t.Run(policy.String(), func(t *testing.T) {
			e := newUnitEnv(t)
			tr := e.tracker(t, pigging.WithStaleLock(policy))
			ctx, cancel := context.WithCancel(context.Background())
			if _, err := tr.Start(ctx); err != nil {
				t.Fatal(err)
			}
			tr.Info("working")
			cancel()
			if err := tr.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			got := unitBetween(t, unitRecords(t, e.log))
			unitEqualLines(t, "records", got, []string{"INFO: working", "WARN: Run cancelled: context canceled"})
			if policy == pigging.TakeOver {
				unitNoFile(t, e.lock)
				return
			}
			info := unitLockInfo(t, e.lock)
			if info.Status != pigging.StateCancellation || info.Error != "context canceled" {
				t.Errorf("lock after a cancelled run = %+v, want status cancelled", info)
			}
			_, err := e.tracker(t).Start(context.Background())
			if !errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), "was cancelled") {
				t.Errorf("Start after a cancelled run = %v, want ErrStaleLock saying it was cancelled", err)
			}
		})
	}
}

func TestFailureWinsOverCancellation(t *testing.T) {
	e := newUnitEnv(t)
	tr := e.tracker(t)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := tr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_ = tr.LogException(errors.New("boom"))
	cancel()
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	if info := unitLockInfo(t, e.lock); info.Status != pigging.StateFailure || info.Error != "boom" {
		t.Errorf("lock = %+v, want failed with the run's error", info)
	}
}

func TestTakeOverNeverTakesALiveLock(t *testing.T) {
	e := newUnitEnv(t)
	holder, _ := e.start(t)
	holder.Info("still running")
	lockBefore := unitReadFile(t, e.lock)

	_, err := e.tracker(t, pigging.WithStaleLock(pigging.TakeOver)).Start(context.Background())
	if !errors.Is(err, pigging.ErrLocked) || errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("Start with TakeOver while held = %v, want ErrLocked (not stale)", err)
	}
	unitNoFile(t, e.log+".prev")
	if got := unitReadFile(t, e.lock); got != lockBefore {
		t.Errorf("the holder's lock file changed:\n%s\nwant:\n%s", got, lockBefore)
	}
	holder.Info("still writing to its log")
	if err := holder.Stop(); err != nil {
		t.Fatal(err)
	}
	got := unitBetween(t, unitRecords(t, e.log))
	if len(got) != 3 || got[0] != "INFO: still running" || !strings.HasPrefix(got[1], "WARN: Refused a second run ") || got[2] != "INFO: still writing to its log" {
		t.Errorf("holder's log:\n%s", strings.Join(got, "\n"))
	}
}
