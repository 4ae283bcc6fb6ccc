//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunWait checks --wait: a run waits for a live holder and runs once
// it has finished; one whose wait ends first is refused with 75, saying it
// waited; a lock a failed run left is refused at once, whatever --wait.
func TestRunWait(t *testing.T) {
	holdScript := `echo ready; while [ ! -e release ]; do sleep 0.02; done`
	t.Run("holder finishes", func(t *testing.T) {
		dir := t.TempDir()
		holder := startPigging(t, dir, nil, "run", "--name", "w", "--", "sh", "-c", holdScript)
		waitForLine(t, filepath.Join(dir, "w.log"), "ready stream=stdout", testLimit)
		waiter := startPigging(t, dir, nil, "run", "--name", "w", "--wait", "60", "--", "sh", "-c", "echo second")
		time.Sleep(300 * time.Millisecond)
		select {
		case <-waiter.done:
			t.Fatalf("the waiting run exited while the holder ran: %s", waiter.stderr.String())
		default:
		}
		if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if code := holder.wait(t, testLimit); code != 0 {
			t.Fatalf("holder: exit status %d\nstderr: %s", code, holder.stderr.String())
		}
		if code := waiter.wait(t, testLimit); code != 0 {
			t.Fatalf("waiting run: exit status %d\nstderr: %s", code, waiter.stderr.String())
		}
		if waiter.stdout.String() != "second\n" {
			t.Errorf("waiting run's stdout %q", waiter.stdout.String())
		}
		// The holder's log is the waiting run's now; no refusal was
		// recorded in it while waiting.
		data, _ := os.ReadFile(filepath.Join(dir, "w.log"))
		if !strings.Contains(string(data), "INFO: second stream=stdout") {
			t.Errorf("log after the waiting run:\n%s", data)
		}
	})
	t.Run("wait ends first", func(t *testing.T) {
		dir := t.TempDir()
		holder := startPigging(t, dir, nil, "run", "--name", "w", "--", "sh", "-c", holdScript)
		log := filepath.Join(dir, "w.log")
		waitForLine(t, log, "ready stream=stdout", testLimit)
		start := time.Now()
		waiter := startPigging(t, dir, nil, "run", "--name", "w", "--wait", "400ms", "--", "sh", "-c", "echo second")
		code := waiter.wait(t, testLimit)
		if elapsed := time.Since(start); elapsed < 400*time.Millisecond {
			t.Errorf("refused after %s, before --wait 400ms", elapsed)
		}
		if code != exitLocked {
			t.Fatalf("exit status %d, want %d\nstderr: %s", code, exitLocked, waiter.stderr.String())
		}
		if got := waiter.stderr.String(); !strings.Contains(got, "is held by") || !strings.Contains(got, "(--wait 400ms) for the run holding the lock to finish") {
			t.Errorf("refusal %q does not name the holder and say it waited", got)
		}
		data, _ := os.ReadFile(log)
		if n := strings.Count(string(data), "Refused a second run"); n != 1 {
			t.Errorf("%d refusals in the holder's log, want 1 (the wait reads the lock, it does not try it):\n%s", n, data)
		}
		if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if code := holder.wait(t, testLimit); code != 0 {
			t.Fatalf("holder: exit status %d", code)
		}
	})
	t.Run("stale lock refused at once", func(t *testing.T) {
		dir := t.TempDir()
		if p := startPigging(t, dir, nil, "run", "--name", "w", "--", "sh", "-c", "exit 3"); p.wait(t, testLimit) != 3 {
			t.Fatal("the failing run did not exit 3")
		}
		start := time.Now()
		p := startPigging(t, dir, nil, "run", "--name", "w", "--wait", "1m", "--", "true")
		code := p.wait(t, testLimit)
		if code != exitLocked {
			t.Fatalf("exit status %d, want %d\nstderr: %s", code, exitLocked, p.stderr.String())
		}
		if elapsed := time.Since(start); elapsed > 30*time.Second {
			t.Errorf("a stale lock was refused after %s, want at once", elapsed)
		}
		if strings.Contains(p.stderr.String(), "waited") {
			t.Errorf("refusal of a stale lock says it waited: %q", p.stderr.String())
		}
	})
}
