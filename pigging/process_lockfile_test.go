//go:build unix

package pigging_test

// A lock file replaced under a live run never lets a run in beside the
// live one, whatever log the new run uses.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
)

// A lock file replaced under a live run (copied and renamed over, as an
// editor or a restore does) names a run whose log is held: a run with a
// log of its own is refused as held by a live run, with Refuse and with
// TakeOver, and the live run's log is left alone.
func TestProcessReplacedLockOtherLog(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "first.log"), filepath.Join(dir, "job.lock")
	release := filepath.Join(dir, "release")
	holder := proctest.StartLines(t, "hold-report", "LOG="+logPath, "LOCK="+lockPath, "RELEASE="+release)
	holder.WaitLine(t, 30*time.Second, func(l string) bool { return l == "ready" })

	data, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	pigtest.WriteFile(t, lockPath+".restored", string(data))
	if err := os.Rename(lockPath+".restored", lockPath); err != nil {
		t.Fatal(err)
	}
	before := unitReadFile(t, logPath)

	for _, stale := range []string{"refuse", "takeover"} {
		otherLog := filepath.Join(dir, "second-"+stale+".log")
		try := proctest.Start(t, "try", "LOG="+otherLog, "LOCK="+lockPath, "STALE="+stale)
		if code := try.Wait(t, 30*time.Second); code != pigtest.ExitLocked {
			t.Fatalf("%s: run with its own log exit %d (%s), want %d: refused as held by a live run", stale, code, try.Output(), pigtest.ExitLocked)
		}
		out := try.Output()
		if !strings.Contains(out, "in progress") || strings.Contains(out, "died") {
			t.Errorf("%s: refusal %q, want a run in progress, not a dead one", stale, out)
		}
	}
	if after := unitReadFile(t, logPath); after != before {
		t.Errorf("the live run's log changed while others were refused:\n%s", after)
	}
	proctest.ChildTouch(release)
	if code := holder.Wait(t, 30*time.Second); code != 7 {
		t.Fatalf("holder exit %d (%s), want 7: Stop returned ErrLockLost", code, holder.Output())
	}
}
