//go:build unix

package pigging_test

// Files: the log and lock are created with the documented modes under the
// process umask, the lock file is never deleted or rewritten by a process
// that does not hold it, and records that cannot reach the log reach stderr
// one whole line each.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

func init() {
	childScenarios["modes"] = childModes
	childScenarios["fallback"] = childFallback
}

// childModes sets the umask UMASK, runs a job with WithFileMode(MODE) when
// MODE is set, and prints the modes of the files it made: the log and the
// lock while running, the lock kept after a failure, and a log created by
// the refused Start that appends its Locked line.
func childModes() int {
	umask, err := strconv.ParseUint(os.Getenv("UMASK"), 8, 32)
	if err != nil {
		proctest.ChildDie("UMASK: %v", err)
	}
	syscall.Umask(int(umask))
	opts := []pigging.Option{pigging.WithName("modes"), pigging.WithOutput(io.Discard)}
	if m := os.Getenv("MODE"); m != "" {
		mode, err := strconv.ParseUint(m, 8, 32)
		if err != nil {
			proctest.ChildDie("MODE: %v", err)
		}
		opts = append(opts, pigging.WithFileMode(os.FileMode(mode)))
	}
	logPath, lockPath := os.Getenv("LOG"), os.Getenv("LOCK")
	perm := func(path string) string {
		fi, err := os.Stat(path)
		if err != nil {
			proctest.ChildDie("stat: %v", err)
		}
		return fmt.Sprintf("%04o", fi.Mode().Perm())
	}
	t, err := pigging.New(logPath, lockPath, opts...)
	if err != nil {
		proctest.ChildDie("New: %v", err)
	}
	if _, err := t.Start(context.Background()); err != nil {
		proctest.ChildDie("Start: %v", err)
	}
	fmt.Printf("log=%s lock=%s", perm(logPath), perm(lockPath))
	t.LogException(errors.New("failed on purpose"))
	if err := t.Stop(); err != nil {
		proctest.ChildDie("Stop: %v", err)
	}
	fmt.Printf(" kept=%s", perm(lockPath))
	if err := os.Remove(logPath); err != nil {
		proctest.ChildDie("%v", err)
	}
	t2, err := pigging.New(logPath, lockPath, opts...)
	if err != nil {
		proctest.ChildDie("New: %v", err)
	}
	if _, err := t2.Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) {
		proctest.ChildDie("Start on the kept lock: %v", err)
	}
	fmt.Printf(" refusedlog=%s\n", perm(logPath))
	return 0
}

func TestProcessFileModes(t *testing.T) {
	cases := []struct {
		umask, mode string // mode "" is the default
		want        string
	}{
		{"022", "", "0644"},
		{"000", "", "0644"},
		{"077", "", "0600"},
		{"022", "600", "0600"},
		{"022", "666", "0644"},
		{"000", "666", "0666"},
		{"027", "640", "0640"},
		{"000", "600", "0600"},
		{"002", "664", "0664"},
	}
	for _, tc := range cases {
		t.Run("umask"+tc.umask+"/mode"+tc.mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			c := proctest.Start(t, "modes", "UMASK="+tc.umask, "MODE="+tc.mode, "LOG="+filepath.Join(dir, "job.log"), "LOCK="+filepath.Join(dir, "job.lock"))
			if code := c.Wait(t, 30*time.Second); code != 0 {
				t.Fatalf("child exit %d: %s %s", code, c.Output(), c.Stderr())
			}
			want := fmt.Sprintf("log=%s lock=%s kept=%s refusedlog=%s", tc.want, tc.want, tc.want, tc.want)
			if got := strings.TrimSpace(c.Output()); got != want {
				t.Errorf("umask %s, WithFileMode(%s): %s, want %s", tc.umask, tc.mode, got, want)
			}
		})
	}
}

// TestStopSparesReplacedLock: when the lock path no longer names
// the file a run locked (someone deleted it, or moved another file there),
// Stop reports ErrLockLost and neither deletes nor rewrites what is there
// now (it names no run of this process), whatever the outcome.
func TestStopSparesReplacedLock(t *testing.T) {
	replace := map[string]func(t *testing.T, lockPath string){
		"deleted and recreated": func(t *testing.T, lockPath string) {
			if err := os.Remove(lockPath); err != nil {
				t.Fatal(err)
			}
			pigtest.WriteFile(t, lockPath, "someone else's file\n")
		},
		"renamed over": func(t *testing.T, lockPath string) {
			other := lockPath + ".other"
			pigtest.WriteFile(t, other, "someone else's file\n")
			if err := os.Rename(other, lockPath); err != nil {
				t.Fatal(err)
			}
		},
	}
	outcomes := map[string]func(tr *pigging.Tracker, cancel context.CancelFunc){
		"ok":        func(*pigging.Tracker, context.CancelFunc) {},
		"failed":    func(tr *pigging.Tracker, _ context.CancelFunc) { tr.LogException(errors.New("boom")) },
		"cancelled": func(_ *pigging.Tracker, cancel context.CancelFunc) { cancel() },
	}
	for rname, rep := range replace {
		for oname, outcome := range outcomes {
			t.Run(rname+"/"+oname, func(t *testing.T) {
				dir := t.TempDir()
				lockPath := filepath.Join(dir, "job.lock")
				tr, err := pigging.New(filepath.Join(dir, "job.log"), lockPath, pigtest.QuietOpts()...)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if _, err := tr.Start(ctx); err != nil {
					t.Fatal(err)
				}
				rep(t, lockPath)
				outcome(tr, cancel)
				if err := tr.Stop(); !errors.Is(err, pigging.ErrLockLost) {
					t.Fatalf("Stop = %v, want ErrLockLost", err)
				}
				data, err := os.ReadFile(lockPath)
				if err != nil || string(data) != "someone else's file\n" {
					t.Fatalf("the file now at the lock path was deleted or rewritten: %q %v", data, err)
				}
			})
		}
	}

	// The path was deleted by hand and a second run took a new lock: the
	// first run's Stop leaves the second run's lock alone.
	t.Run("second run's lock", func(t *testing.T) {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "job.log")
		lockPath := filepath.Join(dir, "job.lock")
		first, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
		if _, err := first.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(lockPath); err != nil {
			t.Fatal(err)
		}
		second, _ := pigging.New(logPath+"2", lockPath, pigtest.QuietOpts()...)
		if _, err := second.Start(context.Background()); err != nil {
			t.Fatalf("second Start after the lock was deleted: %v", err)
		}
		secondLock, _ := os.ReadFile(lockPath)
		first.LogException(errors.New("first failed"))
		if err := first.Stop(); !errors.Is(err, pigging.ErrLockLost) {
			t.Fatalf("first Stop = %v, want ErrLockLost", err)
		}
		if data, err := os.ReadFile(lockPath); err != nil || string(data) != string(secondLock) {
			t.Fatalf("first run's Stop touched the second run's lock: %q %v", data, err)
		}
		// The second still holds it: a third is refused.
		third, _ := pigging.New(logPath+"3", lockPath, pigtest.QuietOpts()...)
		if _, err := third.Start(context.Background()); !errors.Is(err, pigging.ErrLocked) || errors.Is(err, pigging.ErrStaleLock) {
			t.Fatalf("third Start: %v, want ErrLocked", err)
		}
		if err := second.Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("second run's Stop did not remove its lock: %v", err)
		}
	})
}

// childFallback logs through every entry point before Start and after
// Stop, where records go to stderr.
func childFallback() int {
	t := pigtest.ChildTracker("fallback", pigging.WithOutput(io.Discard))
	t.Info("early info", "k", "v")
	_ = t.Log(slog.LevelWarn, "early log")
	t.Logger().Info("early logger")
	_ = t.LogException(errors.New("early exception"))
	if _, err := t.Start(context.Background()); err != nil {
		proctest.ChildDie("Start: %v", err)
	}
	if err := t.Stop(); err != nil {
		proctest.ChildDie("Stop: %v", err)
	}
	t.Info("late info")
	t.Error("late error\nwith a newline")
	t.Logger().Warn("late logger")
	_ = t.LogException(errors.New("late exception"))
	return 0
}

// TestProcessFallbackToStderr: records logged outside a run are not lost:
// each reaches stderr as one whole line naming the log they missed.
func TestProcessFallbackToStderr(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job.log")
	c := proctest.Start(t, "fallback", "LOG="+logPath, "LOCK="+filepath.Join(dir, "job.lock"))
	if code := c.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("child exit %d: %s", code, c.Stderr())
	}
	stderr := c.Stderr()
	if !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr does not end with a newline: %q", stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	want := []string{"INFO: early info k=v", "WARN: early log", "INFO: early logger", "ERROR: early exception",
		"INFO: late info", `ERROR: late error\nwith a newline`, "WARN: late logger", "ERROR: late exception"}
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, "pigging: not written to "+logPath+" (") || !strings.HasSuffix(l, want[i]) {
			t.Errorf("stderr line %d = %q, want the fallback of %q", i+1, l, want[i])
		}
	}
}
