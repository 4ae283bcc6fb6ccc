//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// status tells free, running (a real pigging run holding the lock) and
// stale, with exit statuses 0, 1, 2; unlock refuses a live lock, clears a
// stale one and says so in the failed run's log.
func TestStatusAndUnlock(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := files(dir, "nightly")

	r := runInProcess(t, "status", "--lock", lockPath)
	if r.code != exitFree || !strings.Contains(r.stdout, lockPath+": free") {
		t.Fatalf("status with no lock: %d %q", r.code, r.stdout)
	}

	// A running job: pigging run in a process of its own, waiting for a file.
	release := filepath.Join(dir, "release")
	holder := startPigging(t, dir, nil, "run", "--name", "nightly", "--", "sh", "-c",
		"echo started; while [ ! -e "+release+" ]; do sleep 0.02; done")
	waitForLine(t, logPath, "started stream=stdout", 30*time.Second)
	r = runInProcess(t, "status", "--name", filepath.Join(dir, "nightly"))
	if r.code != exitRunning || !strings.Contains(r.stdout, ": running: pid ") || !strings.Contains(r.stdout, "trace ") {
		t.Fatalf("status while a job runs: %d %q", r.code, r.stdout)
	}
	r = runInProcess(t, "status", "--lock", lockPath, "--json")
	var js struct {
		State  string `json:"state"`
		Holder struct {
			PID int `json:"pid"`
		} `json:"holder"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || js.State != "running" || js.Holder.PID != holder.cmd.Process.Pid {
		t.Fatalf("status --json while a job runs: %q (%v), want running with pid %d", r.stdout, err, holder.cmd.Process.Pid)
	}
	before, _ := os.ReadFile(lockPath)
	r = runInProcess(t, "unlock", "--lock", lockPath)
	if r.code != exitRunning || !strings.Contains(r.stderr, "refused") {
		t.Fatalf("unlock of a live lock: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if after, _ := os.ReadFile(lockPath); string(after) != string(before) {
		t.Fatal("a refused unlock changed the lock file")
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := holder.wait(t, testLimit); code != 0 {
		t.Fatalf("holder exit %d: %s", code, holder.stderr.String())
	}

	// A failed job leaves a stale lock.
	r = runInProcess(t, "run", "--name", "nightly", "--log", logPath, "--lock", lockPath, "--", "sh", "-c", "echo loading; exit 3")
	if r.code != 3 {
		t.Fatalf("failing run exit %d", r.code)
	}
	r = runInProcess(t, "status", "--lock", lockPath)
	if r.code != exitStale || !strings.Contains(r.stdout, "failed: exit status 3") || !strings.Contains(r.stdout, "read "+logPath) {
		t.Fatalf("status after a failed run: %d %q", r.code, r.stdout)
	}
	r = runInProcess(t, "unlock", "--lock", lockPath)
	if r.code != exitOK || !strings.Contains(r.stdout, "cleared "+lockPath+": stale") {
		t.Fatalf("unlock of a stale lock: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Lstat(lockPath); !os.IsNotExist(err) {
		t.Fatalf("lock still there after unlock: %v", err)
	}
	recs := readLog(t, logPath)
	if last := recs[len(recs)-1]; last.level != "WARN" || !strings.HasPrefix(last.text, "Lock cleared by ") || !strings.Contains(last.text, "failed: exit status 3") {
		t.Errorf("last record of the failed run's log: %+v", last)
	}
	r = runInProcess(t, "status", "--lock", lockPath)
	if r.code != exitFree {
		t.Errorf("status after unlock: %d %q", r.code, r.stdout)
	}
	r = runInProcess(t, "unlock", "--lock", lockPath)
	if r.code != exitOK || !strings.Contains(r.stdout, "nothing to clear") {
		t.Errorf("unlock of a free lock: %d %q", r.code, r.stdout)
	}
}

// Bad command lines of status and unlock exit 64, naming what is wrong.
func TestStatusUsage(t *testing.T) {
	for _, args := range [][]string{{"status"}, {"unlock"}, {"status", "--bogus"}, {"unlock", "--lock", "x", "extra"}} {
		r := runInProcess(t, args...)
		if r.code != exitLockUsage || !strings.Contains(r.stderr, "pigging "+args[0]+":") {
			t.Errorf("pigging %q: %d %q, want %d naming the command", args, r.code, r.stderr, exitLockUsage)
		}
	}
}
