//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logText returns the texts of the log's records, one a line.
func logText(t *testing.T, path string) string {
	t.Helper()
	var texts []string
	for _, r := range readLog(t, path) {
		texts = append(texts, r.level+": "+r.text)
	}
	return strings.Join(texts, "\n")
}

// TestRunSecondSignal checks that a second SIGTERM or SIGINT kills the
// command's process group at once, without waiting out --grace.
func TestRunSecondSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(signalName(sig), func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "twice.log")
			p := startPigging(t, dir, nil, "run", "--name", "twice", "--grace", "10m", "--", "sh", "-c",
				`trap 'echo got it' INT TERM; echo ready; while :; do sleep 0.05; done`)
			waitForLine(t, log, "ready stream=stdout", testLimit)
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			waitForLine(t, log, "got it stream=stdout", testLimit)
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t, testLimit); code != 128+9 {
				t.Fatalf("exit status %d, want %d (killed)\nstderr: %s", code, 128+9, p.stderr.String())
			}
			all := logText(t, log)
			if !strings.Contains(all, "WARN: Received "+signalName(sig)+" again, killing the command's process group now") {
				t.Errorf("log has no WARN about the second signal:\n%s", all)
			}
			if content := readLock(t, filepath.Join(dir, "twice.lock")); !strings.Contains(content, `"status":"cancellation"`) {
				t.Errorf("lock file %s, want status cancellation", content)
			}
		})
	}
}

// TestRunStoppedCommand checks that a command stopped by SIGTTIN is
// noticed (a WARN record) and that a forwarded signal reaches it: it is
// followed by SIGCONT.
func TestRunStoppedCommand(t *testing.T) {
	if !canSeeStops {
		t.Skip("this system does not show pigging whether a process is stopped")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "stop.log")
	p := startPigging(t, dir, nil, "run", "--name", "stop", "--grace", "10m", "--", "sh", "-c",
		`echo ready; kill -TTIN $$; echo continued`)
	waitForLine(t, log, "ready stream=stdout", testLimit)
	deadline := time.Now().Add(testLimit)
	for !strings.Contains(logText(t, log), "WARN: The command is stopped") {
		if time.Now().After(deadline) {
			t.Fatalf("no WARN about the stopped command after %s:\n%s", testLimit, logText(t, log))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Without SIGCONT the command would stay stopped with SIGTERM pending
	// for the ten minutes of --grace.
	if code := p.wait(t, testLimit); code != 128+15 {
		t.Fatalf("exit status %d, want %d (SIGTERM)\nstderr: %s", code, 128+15, p.stderr.String())
	}
}

// TestRunLeftoverProcesses checks that processes the command left running
// in its group get SIGTERM, then SIGKILL after --grace, with a WARN saying
// how many; and that --keep-children leaves them be.
func TestRunLeftoverProcesses(t *testing.T) {
	t.Run("SIGTERM", func(t *testing.T) {
		dir := t.TempDir()
		start := time.Now()
		r := runInProcess(t, "run", "--name", "left", "--log", filepath.Join(dir, "left.log"), "--lock", filepath.Join(dir, "left.lock"),
			"--", "sh", "-c", `sleep 60 & sleep 60 & echo bye`)
		if r.code != 0 {
			t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
		}
		if elapsed := time.Since(start); elapsed > 30*time.Second {
			t.Errorf("pigging took %s with the leftover sleeps", elapsed)
		}
		all := logText(t, filepath.Join(dir, "left.log"))
		want := "The command left processes running"
		if _, ok := groupSize(1); ok {
			want = "The command left 2 processes running"
		}
		if !strings.Contains(all, want) || strings.Contains(all, "killing them") {
			t.Errorf("log has no WARN %q, or killed them:\n%s", want, all)
		}
	})
	t.Run("SIGKILL after grace", func(t *testing.T) {
		dir := t.TempDir()
		start := time.Now()
		r := runInProcess(t, "run", "--name", "left", "--grace", "300ms", "--log", filepath.Join(dir, "left.log"), "--lock", filepath.Join(dir, "left.lock"),
			"--", "sh", "-c", `(trap '' TERM; sleep 60) & echo bye`)
		if r.code != 0 {
			t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
		}
		if elapsed := time.Since(start); elapsed < 300*time.Millisecond || elapsed > 30*time.Second {
			t.Errorf("pigging took %s with a leftover that ignores SIGTERM and --grace 300ms", elapsed)
		}
		if all := logText(t, filepath.Join(dir, "left.log")); !strings.Contains(all, "still running 300ms after SIGTERM, killing them") {
			t.Errorf("log has no WARN about killing the leftovers:\n%s", all)
		}
	})
	t.Run("keep-children", func(t *testing.T) {
		dir := t.TempDir()
		pidFile := filepath.Join(dir, "pid")
		r := runInProcess(t, "run", "--name", "left", "--keep-children", "--log", filepath.Join(dir, "left.log"), "--lock", filepath.Join(dir, "left.lock"),
			"--", "sh", "-c", `sleep 60 >/dev/null 2>&1 & echo $! > `+pidFile)
		if r.code != 0 {
			t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
		}
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Kill(pid, syscall.SIGKILL)
		if err := syscall.Kill(pid, 0); err != nil {
			t.Errorf("the leftover sleep is gone with --keep-children: %v", err)
		}
		if all := logText(t, filepath.Join(dir, "left.log")); strings.Contains(all, "The command left") {
			t.Errorf("log has a WARN about leftovers with --keep-children:\n%s", all)
		}
	})
}
