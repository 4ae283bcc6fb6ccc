//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestRunQuiet checks --quiet: a run that exits 0 prints nothing, one
// that fails prints CMD's output on its streams, pigging's messages and
// the trace summary; the log has every line either way.
func TestRunQuiet(t *testing.T) {
	script := `echo out1; echo err1 >&2; echo out2; exit "$1"`
	for _, code := range []int{0, 5} {
		t.Run(fmt.Sprint("exit ", code), func(t *testing.T) {
			dir := t.TempDir()
			// An empty OTEL_TRACES_EXPORTER: the default, the summary on stderr.
			p := startPigging(t, dir, []string{"OTEL_TRACES_EXPORTER="}, "run", "--quiet", "--name", "q", "--", "sh", "-c", script, "sh", fmt.Sprint(code))
			if got := p.wait(t, testLimit); got != code {
				t.Fatalf("exit status %d, want %d\nstderr: %s", got, code, p.stderr.String())
			}
			if got := outputLines(readLog(t, filepath.Join(dir, "q.log"))); len(got) != 3 {
				t.Errorf("log has %d output records, want 3: %v", len(got), got)
			}
			if code == 0 {
				if p.stdout.Len() != 0 || p.stderr.Len() != 0 {
					t.Errorf("a run that succeeded printed stdout %q, stderr %q", p.stdout.String(), p.stderr.String())
				}
				return
			}
			if p.stdout.String() != "out1\nout2\n" {
				t.Errorf("stdout %q, want the command's", p.stdout.String())
			}
			stderr := p.stderr.String()
			for _, want := range []string{"err1\n", "TOTAL SCRIPT TIME: ", "trace_id=", `status=Error "exit status 5"`} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q has no %q", stderr, want)
				}
			}
		})
	}
}

// TestRunQuietLimit checks that a failing --quiet run that printed more
// than it keeps shows the end of its output and says how much is left
// out, and that the log has all of it.
func TestRunQuietLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("10 MB through pigging: not in -short")
	}
	dir := t.TempDir()
	const lines = 100_000 // 100 bytes each: 10 MB, past the 8 MiB kept
	// pigging's stdout is a file: the replay's size is what is checked
	// here, not how fast a pipe's reader keeps up on a loaded machine.
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p := startPiggingTo(t, dir, nil, out, "run", "--quiet", "--name", "big", "--", "awk",
		fmt.Sprintf(`BEGIN { for (i = 0; i < %d; i++) printf "line %%07d %%s\n", i, "%s"; exit 1 }`, lines, strings.Repeat("x", 86)))
	if code := p.wait(t, testLimit); code != 1 {
		t.Fatalf("exit status %d\nstderr: %s", code, p.stderr.String())
	}
	stdout, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(stdout); n > quietLimit || n < quietLimit-1<<20 {
		t.Errorf("stdout has %d bytes, want about the last %d", n, quietLimit)
	}
	if !strings.HasSuffix(string(stdout), fmt.Sprintf("line %07d %s\n", lines-1, strings.Repeat("x", 86))) {
		t.Error("stdout does not end with the last line")
	}
	if !strings.Contains(p.stderr.String(), "of the run's output are left out here (--quiet keeps the last 8.0 MiB); big.log has every line") {
		t.Errorf("stderr %q does not say what was left out", abbrev(p.stderr.String()))
	}
	if got := outputLines(readLog(t, filepath.Join(dir, "big.log"))); len(got) != lines {
		t.Errorf("log has %d output records, want %d", len(got), lines)
	}
}

// TestRunWaitSignal checks that a signal ends a wait for the lock at
// once, with 128+N and nothing taken.
func TestRunWaitSignal(t *testing.T) {
	dir := t.TempDir()
	holder := startPigging(t, dir, nil, "run", "--name", "w", "--", "sh", "-c", `echo ready; while [ ! -e release ]; do sleep 0.02; done`)
	waitForLine(t, filepath.Join(dir, "w.log"), "ready stream=stdout", testLimit)
	waiter := startPigging(t, dir, nil, "run", "--name", "w", "--wait", "10m", "--", "true")
	// Nothing shows from outside that it is waiting: give it ample time to
	// start and catch signals (a signal before then would kill it, -1).
	time.Sleep(3 * time.Second)
	if err := waiter.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waiter.wait(t, testLimit); code != 128+15 {
		t.Fatalf("exit status %d, want %d\nstderr: %s", code, 128+15, waiter.stderr.String())
	}
	if !strings.Contains(waiter.stderr.String(), "stopped waiting for the lock: received SIGTERM") {
		t.Errorf("stderr %q", waiter.stderr.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := holder.wait(t, testLimit); code != 0 {
		t.Fatalf("holder: exit status %d", code)
	}
}
