//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunKilledKeepsLock kills pigging with SIGKILL, which it cannot catch,
// while its command runs on: the lock must stay held for as long as the
// command lives (status says running, a second run and unlock are
// refused), and becomes stale, "died without stopping", once it has
// exited. Where the system has a parent-death signal (Linux), the command
// is also sent SIGTERM when pigging dies.
func TestRunKilledKeepsLock(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "orphan")
	// The command writes nothing to its stdout once pigging is gone: that
	// pipe has no reader then, and a write would end it with SIGPIPE.
	p := startPigging(t, dir, nil, "run", "--name", "orphan", "--", "sh", "-c",
		`trap 'echo TERM > got-term' TERM; echo ready; while [ ! -e release ]; do sleep 0.05; done`)
	waitForLine(t, log, "ready stream=stdout", testLimit)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done

	if deathSignal {
		waitForFile(t, filepath.Join(dir, "got-term"), testLimit)
	}
	r := runInProcess(t, "status", "--lock", lock)
	if r.code != exitRunning || !strings.Contains(r.stdout, ": running") {
		t.Fatalf("status while the command of a killed pigging runs: %d %q, want running", r.code, r.stdout)
	}
	r = runInProcess(t, "run", "--log", filepath.Join(dir, "second.log"), "--lock", lock, "--", "true")
	if r.code != exitLocked {
		t.Fatalf("second run while the first command runs: exit status %d, want %d\nstderr: %s", r.code, exitLocked, r.stderr)
	}
	r = runInProcess(t, "unlock", "--lock", lock)
	if r.code != exitRunning {
		t.Fatalf("unlock while the command runs: %d %q %q, want it refused", r.code, r.stdout, r.stderr)
	}

	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testLimit)
	for {
		r = runInProcess(t, "status", "--lock", lock)
		if r.code == exitStale {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %s after the command exited: %d %q, want stale", testLimit, r.code, r.stdout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(r.stdout, "died without stopping") {
		t.Errorf("status after the command exited: %q, want it to say pigging died", r.stdout)
	}
}

// waitForFile waits until path exists, failing the test after d.
func waitForFile(t *testing.T, path string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("no %s after %s", path, d)
}

// TestRunStalledOutput gives pigging a stdout that nobody reads (a hung
// log shipper, a paused terminal) and a command that prints without end:
// the timeout, or a SIGTERM, must still end the run within a bound, with
// the pass-through dropped and said so in the log, which keeps everything.
func TestRunStalledOutput(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		signal bool
		code   int
		lock   string // in the lock file
	}{
		{"timeout", []string{"--timeout", "3s", "--grace", "500ms"}, false, exitTimeout, `"error":"timed out after 3s (command killed by SIGTERM)"`},
		{"SIGTERM", []string{"--grace", "500ms"}, true, 128 + int(syscall.SIGTERM), `"status":"cancellation"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log, lock := files(dir, "stall")
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close() // open, never read: writes block once the pipe is full
			args := append([]string{"run", "--name", "stall"}, tt.args...)
			p := startPiggingTo(t, dir, nil, pw, append(args, "--", "yes")...)
			pw.Close()
			waitForLine(t, log, "y stream=stdout", testLimit)
			waitStalled(t, log)
			if tt.signal {
				if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			// The timeout, the grace period, the 2 s given to the output
			// after the command exited and the logging of what the pipe
			// still held, with a wide margin.
			code := p.wait(t, testLimit)
			if code != tt.code {
				t.Fatalf("exit status %d, want %d\nstderr: %s", code, tt.code, p.stderr.String())
			}
			data, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), "WARN: Passing the command's output through failed") {
				t.Errorf("no WARN about the pass-through in the log:\n%s", tail(data))
			}
			if strings.Contains(string(data), "did not exit within") {
				t.Errorf("the log says the command did not exit, but it did:\n%s", tail(data))
			}
			if content := readLock(t, lock); !strings.Contains(content, tt.lock) {
				t.Errorf("lock file %s, want %s", content, tt.lock)
			}
		})
	}
}

// waitStalled waits until the log at path stops growing: the command's
// output, passed through to a reader that does not read, fills the pipes
// and holds the command.
func waitStalled(t *testing.T, path string) {
	t.Helper()
	var last int64 = -1
	for deadline := time.Now().Add(testLimit); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() == last {
			return
		}
		last = fi.Size()
	}
	t.Fatalf("the log kept growing for %s: the output did not stall", testLimit)
}

// tail returns the last lines of a log, for a failure message.
func tail(data []byte) string {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}
