package pigging_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/pigging"
)

// A run refused by a failed run's lock is told to read the log that the
// lock names (the failed run's, which has a name of its own when logs are
// dated), and to clear the lock as the docs say: with "pigging unlock" or
// pigging.Unlock. Its own ERROR record goes to its own log.
func TestRefusalNamesTheFailedRunsLog(t *testing.T) {
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "etl.lock")
	failedLog := filepath.Join(dir, "etl-2026-12-01.log")
	nextLog := filepath.Join(dir, "etl-2026-12-02.log")

	tr, _ := pigging.New(failedLog, lockPath, pigtest.QuietOpts()...)
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.LogException(errors.New("warehouse unreachable"))
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}

	next, _ := pigging.New(nextLog, lockPath, pigtest.QuietOpts()...)
	_, err := next.Start(context.Background())
	var le *pigging.LockError
	if !errors.Is(err, pigging.ErrStaleLock) || !errors.As(err, &le) {
		t.Fatalf("Start after a failed run = %v, want a *LockError wrapping ErrStaleLock", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "; read "+failedLog+", ") {
		t.Errorf("refusal %q does not tell to read the failed run's log %s", msg, failedLog)
	}
	if strings.Contains(msg, "read "+nextLog) {
		t.Errorf("refusal %q points at the refused run's own log", msg)
	}
	if !strings.Contains(msg, "pigging unlock --lock "+lockPath) || !strings.Contains(msg, "pigging.Unlock") || strings.Contains(msg, "delete") {
		t.Errorf("refusal %q: want the clearing the docs give (pigging unlock, pigging.Unlock), not deleting the file", msg)
	}
	if texts := unitLines(t, nextLog); len(texts) != 1 || !strings.Contains(texts[0], "| ERROR: Locked: ") || !strings.Contains(texts[0], "read "+failedLog) {
		t.Errorf("refused run's own log = %q, want its one ERROR record naming the failed run's log", texts)
	}
}

// A lock that names no log (written before runs recorded theirs) sends the
// reader to the refused run's own log.
func TestRefusalWithoutLogInLock(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "etl.log"), filepath.Join(dir, "etl.lock")
	pigtest.WriteFile(t, lockPath, `{"pid":4242,"host":"h1","job":"etl","started":"2026-01-02T03:04:05Z","status":"failed","error":"disk full"}`)
	tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	_, err := tr.Start(context.Background())
	if !errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), "; read "+logPath+", ") {
		t.Fatalf("Start = %v, want ErrStaleLock telling to read %s", err, logPath)
	}
}

// advisingLocker is a memLocker that says how to clear its lock.
type advisingLocker struct{ *memLocker }

func (advisingLocker) ClearAdvice() string { return "mem-unlock --name etl (memLocker.Clear in Go)" }

var _ pigging.ClearAdvisor = advisingLocker{}

// A Locker shared by several hosts: the refusal names the failed run's log
// and the host it is on, never the refused run's own log, and ends with
// the Locker's own advice on clearing it (ClearAdvice), or, from a Locker
// that gives none, its name and Locker.Clear; nothing says to delete.
func TestLockRefusalNamesHostAndClearAdvice(t *testing.T) {
	for _, tc := range []struct {
		name   string
		locker func(*memLocker) pigging.Locker
		want   string
	}{
		{"with advice", func(m *memLocker) pigging.Locker { return advisingLocker{m} },
			"; read /var/log/etl.log on host-a, then clear the lock to run again: mem-unlock --name etl (memLocker.Clear in Go)"},
		{"without", func(m *memLocker) pigging.Locker { return m },
			"; read /var/log/etl.log on host-a, then clear memory job lock to run again (Locker.Clear in Go)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memLocker{record: &pigging.LockInfo{PID: 4242, Host: "host-a", Job: "etl", Status: pigging.StateFailure,
				Error: "warehouse unreachable", Log: "/var/log/etl.log"}}
			logPath := filepath.Join(t.TempDir(), "etl-host-b.log")
			tr, _ := pigging.New(logPath, "", pigtest.QuietOpts(pigging.WithLocker(tc.locker(m)))...)
			_, err := tr.Start(context.Background())
			if !errors.Is(err, pigging.ErrStaleLock) {
				t.Fatalf("Start = %v, want ErrStaleLock", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "pigging: previous run pid 4242 on host-a (job etl) failed: warehouse unreachable") || !strings.HasSuffix(msg, tc.want) {
				t.Errorf("refusal = %q\nwant it to end %q", msg, tc.want)
			}
			if strings.Contains(msg, logPath) || strings.Contains(msg, "delete") {
				t.Errorf("refusal %q names the refused run's own log or says to delete", msg)
			}
			if texts := unitLines(t, logPath); len(texts) != 1 || !strings.Contains(texts[0], tc.want) {
				t.Errorf("refused run's own log = %q, want its ERROR record to say %q", texts, tc.want)
			}
		})
	}
}

// A run that takes over a stale lock left on another host names that
// run's log and host in its WARN, and does not file its own host's last
// log away as the failed run's (.prev).
func TestTakeOverNamesTheFailedRunsLog(t *testing.T) {
	m := &memLocker{record: &pigging.LockInfo{PID: 4242, Host: "host-a", Job: "etl", Status: pigging.StateFailure,
		Error: "warehouse unreachable", Log: "/var/log/etl.log", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}}
	logPath := filepath.Join(t.TempDir(), "etl-host-b.log")
	pigtest.WriteFile(t, logPath, "host b's last run, which succeeded\n")
	tr, _ := pigging.New(logPath, "", pigtest.QuietOpts(pigging.WithLocker(m), pigging.WithStaleLock(pigging.TakeOver))...)
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatalf("Start with TakeOver: %v", err)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	var warn string
	for _, l := range unitLines(t, logPath) {
		if strings.Contains(l, "| WARN: ") {
			warn = l
		}
	}
	for _, want := range []string{"previous_pid=4242", "previous_log=/var/log/etl.log", "previous_host=host-a"} {
		if !strings.Contains(warn, want) {
			t.Errorf("take-over WARN %q lacks %q", warn, want)
		}
	}
	if _, err := os.Lstat(logPath + ".prev"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("this host's own last log was kept as the failed run's .prev: %v", err)
	}
}
