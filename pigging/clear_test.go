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

// ClearLock clears a shared store's stale lock and notes who cleared it
// in the failed run's log when that log is on this host and this user's;
// a log on another host, or a path that is not such a file, gets nothing.
func TestClearLockNotesTheFailedRunsLog(t *testing.T) {
	host, _ := os.Hostname()
	dir := t.TempDir()
	cases := []struct {
		name   string
		host   string
		prep   func(log string)
		noted  bool
		unread bool
	}{
		{"log on this host", host, func(log string) { pigtest.WriteFile(t, log, "the failed run\n") }, true, false},
		{"log on another host", "elsewhere", func(log string) { pigtest.WriteFile(t, log, "the failed run\n") }, false, false},
		{"no log file", host, func(string) {}, false, true},
		{"a symlink", host, func(log string) {
			pigtest.WriteFile(t, log+".target", "the failed run\n")
			pigtest.Symlink(t, log+".target", log)
		}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".log")
			c.prep(log)
			m := &memLocker{record: &pigging.LockInfo{PID: 4242, Host: c.host, Job: "etl", Status: pigging.StateFailure, Error: "boom", Log: log}}
			st, err := pigging.ClearLock(context.Background(), m)
			if c.name == "a symlink" {
				if err == nil {
					t.Errorf("ClearLock with a symlinked log: no error about the record")
				}
			} else if err != nil {
				t.Fatalf("ClearLock: %v", err)
			}
			if st == nil || st.State != pigging.LockStale || m.record != nil {
				t.Fatalf("ClearLock: %+v, record left %+v; want the stale lock cleared", st, m.record)
			}
			data, rerr := os.ReadFile(log)
			if c.unread {
				if !errors.Is(rerr, os.ErrNotExist) {
					t.Errorf("ClearLock made a log that was not there: %v", rerr)
				}
				return
			}
			noted := strings.Contains(string(data), "| WARN: Lock cleared by ")
			if noted != c.noted || !strings.HasPrefix(string(data), "the failed run\n") {
				t.Errorf("log after ClearLock: %q, want the record: %v", data, c.noted)
			}
		})
	}
	// A live lock is refused and left as it was.
	m := &memLocker{}
	if _, err := m.Acquire(context.Background(), &pigging.LockInfo{PID: 1, Host: host, Status: pigging.StateRunning}); err != nil {
		t.Fatal(err)
	}
	if _, err := pigging.ClearLock(context.Background(), m); !errors.Is(err, pigging.ErrLocked) || m.record == nil {
		t.Errorf("ClearLock of a live lock: %v, want ErrLocked and the lock kept", err)
	}
}
