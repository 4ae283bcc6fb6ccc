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

// An unlock that refuses to remove a stale lock (here one with a second
// hard link) must not say "cleared": it prints the error once, with one
// prefix, exits 125, and the lock stays.
func TestUnlockRefusedSaysNotCleared(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "linked")
	if r := runInProcess(t, "run", "--log", log, "--lock", lock, "--", "sh", "-c", "exit 3"); r.code != 3 {
		t.Fatalf("failing run: exit status %d\nstderr: %s", r.code, r.stderr)
	}
	if err := os.Link(lock, lock+".2"); err != nil {
		t.Fatal(err)
	}
	r := runInProcess(t, "unlock", "--lock", lock)
	if r.code != exitInternal {
		t.Errorf("unlock of a lock with two links: exit status %d, want %d", r.code, exitInternal)
	}
	if strings.Contains(r.stdout, "cleared") {
		t.Errorf("unlock that removed nothing says %q", r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "pigging unlock: ") || strings.Contains(r.stderr, "pigging: ") || !strings.Contains(r.stderr, "hard links") {
		t.Errorf("stderr %q, want the error once, prefixed once", r.stderr)
	}
	if _, err := os.Lstat(lock); err != nil {
		t.Errorf("lock after a refused unlock: %v", err)
	}
}

// The exit status pigging ends with, and who decided it, are in the lock a
// failed run keeps, so status --json tells a command's 75 from pigging's.
func TestStatusJSONExitSource(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "collide")
	if r := runInProcess(t, "run", "--log", log, "--lock", lock, "--", "sh", "-c", "exit 75"); r.code != 75 {
		t.Fatalf("run of a command exiting 75: exit status %d", r.code)
	}
	r := runInProcess(t, "status", "--lock", lock, "--json")
	var js struct {
		Holder struct {
			ExitCode   *int   `json:"exit_code"`
			ExitSource string `json:"exit_source"`
		} `json:"holder"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || js.Holder.ExitCode == nil || *js.Holder.ExitCode != 75 || js.Holder.ExitSource != "command" {
		t.Fatalf("status --json: %q (%v), want exit_code 75 from the command", r.stdout, err)
	}
	// The refused run exits 75 too, but leaves the lock as it was.
	if r := runInProcess(t, "run", "--log", log, "--lock", lock, "--", "true"); r.code != exitLocked {
		t.Fatalf("refused run: exit status %d", r.code)
	}
	recs := readLog(t, log)
	if last := recs[len(recs)-1]; last.level != "ERROR" || !strings.HasPrefix(last.text, "Locked: ") {
		t.Errorf("last record after the refusal: %+v", last)
	}
}
