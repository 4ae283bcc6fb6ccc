//go:build unix

package pigging_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

// ReadLock tells free, running (a live process, a real child) and stale;
// Unlock clears only a stale lock, and says so in the failed run's log.
func TestReadLockAndUnlock(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")

	st, err := pigging.ReadLock(lockPath)
	if err != nil || st.State != pigging.LockFree {
		t.Fatalf("ReadLock with no file = %+v, %v; want free", st, err)
	}

	release := filepath.Join(dir, "release")
	holder := proctest.StartLines(t, "hold-report", "LOG="+logPath, "LOCK="+lockPath, "RELEASE="+release)
	holder.WaitLine(t, 30*time.Second, func(l string) bool { return l == "ready" })
	st, err = pigging.ReadLock(lockPath)
	if err != nil || st.State != pigging.LockRunning || st.Holder == nil || st.Holder.PID != holder.Pid() {
		t.Fatalf("ReadLock while a child holds it = %+v, %v; want running, naming pid %d", st, err, holder.Pid())
	}
	before, _ := os.ReadFile(lockPath)
	if _, err := pigging.Unlock(lockPath); !errors.Is(err, pigging.ErrLocked) {
		t.Fatalf("Unlock of a live lock = %v, want ErrLocked", err)
	}
	if after, _ := os.ReadFile(lockPath); string(after) != string(before) {
		t.Fatal("a refused Unlock changed the lock file")
	}
	proctest.ChildTouch(release)
	if code := holder.Wait(t, 30*time.Second); code != pigtest.ExitRan {
		t.Fatalf("holder exit %d: %s", code, holder.Output())
	}

	// A failed run leaves a stale lock.
	tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.LogException(errors.New("warehouse unreachable"))
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	st, err = pigging.ReadLock(lockPath)
	if err != nil || st.State != pigging.LockStale || st.Holder == nil || st.Holder.Error != "warehouse unreachable" || st.Holder.Log != logPath {
		t.Fatalf("ReadLock after a failed run = %+v (%+v), %v; want stale with the error and the log", st, st.Holder, err)
	}
	st, err = pigging.Unlock(lockPath)
	if err != nil || st.State != pigging.LockStale {
		t.Fatalf("Unlock of a stale lock = %+v, %v", st, err)
	}
	if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file still there after Unlock: %v", err)
	}
	texts := proctest.RecordTexts(t, logPath)
	if last := texts[len(texts)-1]; !strings.HasPrefix(last, "WARN: Lock cleared by ") || !strings.Contains(last, "failed: warehouse unreachable") {
		t.Errorf("last record of the failed run's log = %q, want who cleared the lock and what it said", last)
	}
	// And the job runs again.
	next, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	if _, err := next.Start(context.Background()); err != nil {
		t.Fatalf("Start after Unlock: %v", err)
	}
	if err := next.Stop(); err != nil {
		t.Fatal(err)
	}
}
