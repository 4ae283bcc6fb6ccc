//go:build unix

package reliability_test

// The hardening suite: each test reproduces one way a job was crashed,
// hung, lost a failure or let two runs in, with real files, real OS locks
// and, where the behaviour is between processes, real child processes.
// Every wait is bounded, so a hang is a failure, not a stuck run.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/middleware"
	"github.com/pigging-go/pigging/pigging"
)

func init() {
	childScenarios["hold-report"] = pigtest.ChildHoldReport
	childScenarios["try"] = pigtest.ChildTry
	childScenarios["closed-stdout"] = childClosedStdout
	childScenarios["full-disk"] = childFullDisk
}

// loadError is an error whose Error method reads a field, so that a typed
// nil of it panics, as in many real jobs.
type loadError struct{ table string }

func (e *loadError) Error() string { return "load " + e.table + " failed" }

// panicky panics in every method a log line may call.
type panicky struct{}

func (panicky) Error() string                { panic("Error exploded") }
func (panicky) MarshalText() ([]byte, error) { panic("MarshalText exploded") }

// withTimeout runs f and fails the test if it does not return within d.
func withTimeout(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// Item 1: typed nils and panicking values never crash the job; the run is
// recorded failed with a readable message.
func TestHardeningTypedNilAndPanickingValues(t *testing.T) {
	t.Run("Run returns a typed nil error", func(t *testing.T) {
		dir := t.TempDir()
		logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
		err := pigging.Run(context.Background(), logPath, lockPath, func(ctx context.Context, tr *pigging.Tracker) error {
			var e *loadError
			return e
		}, pigtest.QuietOpts()...)
		if err == nil {
			t.Fatal("Run = nil, want the typed nil error")
		}
		info := pigtest.ReadLockInfo(t, lockPath)
		if info.Status != pigging.StateFailure || info.Error != "<nil *reliability_test.loadError>" {
			t.Errorf("lock = %+v, want failed with <nil *reliability_test.loadError>", info)
		}
		if got := strings.Join(proctest.RecordTexts(t, logPath), "\n"); !strings.Contains(got, "ERROR: <nil *reliability_test.loadError>") || !strings.Contains(got, "TOTAL SCRIPT TIME") {
			t.Errorf("log:\n%s", got)
		}
	})
	t.Run("values and errors through every entry point", func(t *testing.T) {
		dir := t.TempDir()
		logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
		tr, err := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, err := tr.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tr.Info("nil time", "k", (*time.Time)(nil))
		tr.Info("nil path error", "err", (*os.PathError)(nil))
		tr.Warn("panicky", "v", panicky{})
		tr.Logger().Info("logger nil time", "k", (*time.Time)(nil), "v", panicky{})
		stage := middleware.Stage("typed-nil", func(context.Context) error {
			var e *loadError
			return e
		})
		if err := stage(ctx); err == nil {
			t.Error("stage returning a typed nil error returned nil")
		}
		tr.LogException(panicky{})
		if err := tr.Stop(); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(proctest.RecordTexts(t, logPath), "\n")
		for _, want := range []string{
			"INFO: nil time k=\"<nil *time.Time>\"",
			"INFO: nil path error err=\"<nil *fs.PathError>\"",
			"WARN: panicky v=\"!PANIC in reliability_test.panicky.Error: Error exploded\"",
			"INFO: logger nil time k=\"<nil *time.Time>\"",
			"ERROR: stage typed-nil failed: <nil *reliability_test.loadError>",
			"ERROR: !PANIC in reliability_test.panicky.Error: Error exploded",
			"INFO: TOTAL SCRIPT TIME",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("log has no %q:\n%s", want, got)
			}
		}
		if info := pigtest.ReadLockInfo(t, lockPath); info.Status != pigging.StateFailure {
			t.Errorf("lock = %+v, want failed", info)
		}
	})
	t.Run("deferred Stop with a typed nil panic value", func(t *testing.T) {
		dir := t.TempDir()
		tr, _ := pigging.New(filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock"), pigtest.QuietOpts()...)
		if _, err := tr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		v := func() (v any) {
			defer func() { v = recover() }()
			defer tr.Stop()
			var e *loadError
			panic(e)
		}()
		if v == nil {
			t.Fatal("the panic did not go on after Stop")
		}
		if info := pigtest.ReadLockInfo(t, filepath.Join(dir, "job.lock")); info.Status != pigging.StateFailure || !strings.Contains(info.Error, "<nil *reliability_test.loadError>") {
			t.Errorf("lock = %+v, want failed naming the typed nil", info)
		}
	})
}

// childClosedStdout starts and stops a run that prints TOTAL SCRIPT TIME to
// a stdout whose reader is gone.
func childClosedStdout() int {
	t, err := pigging.New(os.Getenv("LOG"), os.Getenv("LOCK"), pigging.WithName("pipe"))
	if err != nil {
		proctest.ChildDie("New: %v", err)
	}
	if _, err := t.Start(context.Background()); err != nil {
		proctest.ChildDie("Start: %v", err)
	}
	t.Info("working")
	if err := t.Stop(); err != nil {
		proctest.ChildDie("Stop: %v", err)
	}
	return 0
}

// Item 2: a closed stdout never kills a successful run inside Stop: the
// lock is settled first and the failed print is not fatal.
func TestHardeningClosedStdout(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader is gone: `job | true`
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), proctest.ChildEnv+"=closed-stdout", "LOG="+logPath, "LOCK="+lockPath)
	cmd.Stdout = w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child: %v (stderr %q), want exit 0 with stdout closed", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("child did not exit within 30s")
	}
	if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock left after a successful run with a closed stdout: %v", err)
	}
	texts := proctest.RecordTexts(t, logPath)
	if last := texts[len(texts)-1]; !strings.HasPrefix(last, "INFO: TOTAL SCRIPT TIME: ") {
		t.Errorf("last record %q, want TOTAL SCRIPT TIME", last)
	}
}

// Item 3: a lock file replaced (an editor's save) or deleted during a live
// run never lets a second run in, with Refuse or TakeOver, and the holder's
// Stop reports it and leaves the failed run's details at the lock path.
func TestHardeningLockReplacedOrDeleted(t *testing.T) {
	cases := map[string]func(t *testing.T, lockPath string){
		"copied and renamed over": func(t *testing.T, lockPath string) {
			data, err := os.ReadFile(lockPath)
			if err != nil {
				t.Fatal(err)
			}
			tmp := lockPath + ".editor"
			pigtest.WriteFile(t, tmp, string(data))
			if err := os.Rename(tmp, lockPath); err != nil {
				t.Fatal(err)
			}
		},
		"deleted": func(t *testing.T, lockPath string) {
			if err := os.Remove(lockPath); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
			release := filepath.Join(dir, "release")
			holder := proctest.StartLines(t, "hold-report", "LOG="+logPath, "LOCK="+lockPath, "RELEASE="+release)
			holder.WaitLine(t, 30*time.Second, func(l string) bool { return l == "ready" })
			tamper(t, lockPath)
			for _, stale := range []string{"refuse", "takeover"} {
				try := proctest.Start(t, "try", "LOG="+logPath, "LOCK="+lockPath, "STALE="+stale)
				if code := try.Wait(t, 30*time.Second); code != pigtest.ExitLocked {
					t.Fatalf("%s: second run exit %d (%s), want %d: refused as held by a live run", stale, code, try.Output(), pigtest.ExitLocked)
				}
				if !strings.Contains(try.Output(), "in progress") {
					t.Errorf("%s: refusal %q does not say a run is in progress", stale, try.Output())
				}
			}
			proctest.ChildTouch(release)
			if code := holder.Wait(t, 30*time.Second); code != 7 {
				t.Fatalf("holder exit %d (%s), want 7: Stop returned ErrLockLost", code, holder.Output())
			}
			info := pigtest.ReadLockInfo(t, lockPath)
			if info.PID != holder.Pid() || info.Status != pigging.StateError || !strings.Contains(info.Error, "removed or replaced") {
				t.Errorf("lock after the holder stopped = %+v, want its pid, error, saying the lock was removed or replaced", info)
			}
			texts := proctest.RecordTexts(t, logPath)
			if !strings.Contains(strings.Join(texts, "\n"), "ERROR: Lost the lock "+lockPath+" during the run (pigging: the lock was lost during the run: the lock file "+lockPath+" was removed or replaced)") {
				t.Errorf("holder's log has no ERROR about its lock:\n%s", strings.Join(texts, "\n"))
			}
		})
	}
}

// childFullDisk logs records into a log file limited to LIMIT bytes (a
// full disk, by RLIMIT_FSIZE), then frees the space and logs more.
func childFullDisk() int {
	signal.Ignore(syscall.SIGXFSZ)
	t := pigtest.ChildTracker("disk")
	if _, err := t.Start(context.Background()); err != nil {
		proctest.ChildDie("Start: %v", err)
	}
	limit := uint64(proctest.ChildEnvInt("LIMIT", 0))
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		proctest.ChildDie("getrlimit: %v", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: old.Max}); err != nil {
		proctest.ChildDie("setrlimit: %v", err)
	}
	failed := 0
	for i := range 2000 {
		if err := t.Log(slog.LevelInfo, "row batch loaded with a long enough message", "i", i); err != nil {
			failed++
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		proctest.ChildDie("setrlimit: %v", err)
	}
	t.Info("space freed")
	err := t.Stop()
	var we *pigging.LogWriteError
	if !errors.As(err, &we) {
		fmt.Printf("failed=%d stop=%v\n", failed, err)
		return 1
	}
	fmt.Printf("failed=%d lost=%d\n", failed, we.Lost)
	return 0
}

// Item 4: a full disk fails the run, says how many records were lost,
// keeps the lock with that reason, and never glues a record to a torn one.
func TestHardeningFullDisk(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	c := proctest.Start(t, "full-disk", "LOG="+logPath, "LOCK="+lockPath, "LIMIT=65000")
	if code := c.Wait(t, 60*time.Second); code != 0 {
		t.Fatalf("child exit %d: %s %s", code, c.Output(), c.Stderr())
	}
	var failed, lost int
	if _, err := fmt.Sscanf(strings.TrimSpace(c.Output()), "failed=%d lost=%d", &failed, &lost); err != nil || failed == 0 || lost != failed {
		t.Fatalf("child said %q: want records failed and Stop's LogWriteError counting them all", c.Output())
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	torn := 0
	for _, l := range lines {
		if strings.Count(l, " | ") > 1 {
			t.Errorf("two records on one line: %q", l)
		}
		if !strings.HasSuffix(l, "message") && !strings.Contains(l, " i=") && !strings.Contains(l, "| INFO: ") {
			torn++
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "| INFO: TOTAL SCRIPT TIME: ") {
		t.Errorf("last line %q, want TOTAL SCRIPT TIME", last)
	}
	if !strings.Contains(string(data), "| INFO: space freed\n") {
		t.Errorf("the record after the space was freed is not on a line of its own")
	}
	info := pigtest.ReadLockInfo(t, lockPath)
	if info.Status != pigging.StateFailure || !strings.Contains(info.Error, fmt.Sprintf("%d records could not be written", lost)) {
		t.Errorf("lock = %+v, want failed saying %d records could not be written", info, lost)
	}
}

// Item 4 (lock): a lock write that cannot make its new file (the run's
// 9 KB error, with files limited to 4 KiB) never leaves a fragment: the
// failure is written over the held file, within the room it was made
// with, its error cut to fit and saying so.
func TestHardeningLockWriteIsAtomic(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	c := proctest.Start(t, "full-disk-lock", "LOG="+logPath, "LOCK="+lockPath)
	if code := c.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("child exit %d: %s %s", code, c.Output(), c.Stderr())
	}
	data, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	var info pigging.LockInfo
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatalf("lock file is not whole JSON after a failed write: %v\n%.200s", err, data)
	}
	if info.Status != pigging.StateFailure || !strings.HasPrefix(info.Error, "eeee") || !strings.Contains(info.Error, "more bytes; the log has the whole text]") || len(data) > 4096 {
		t.Errorf("lock (%d bytes) = %+v, want failed, its error cut to fit within 4 KiB", len(data), info)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files left in the directory: %v, want the log and the lock only", names)
	}
}

func init() {
	childScenarios["full-disk-lock"] = func() int {
		signal.Ignore(syscall.SIGXFSZ)
		t := pigtest.ChildTracker("disk")
		if _, err := t.Start(context.Background()); err != nil {
			proctest.ChildDie("Start: %v", err)
		}
		var old syscall.Rlimit
		_ = syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 4096, Max: old.Max}); err != nil {
			proctest.ChildDie("setrlimit: %v", err)
		}
		t.LogException(errors.New(strings.Repeat("e", 9000)))
		os.Exit(0) // the process ends before Stop: what is on disk is what LogException left
		return 0
	}
}

// Item 5: a failure message over 1 MiB keeps the lock file readable: the
// stored error is cut and says so, and the next run is refused as stale or
// takes over.
func TestHardeningHugeFailure(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.LogException(errors.New(strings.Repeat("x", 1<<20+10)))
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(lockPath)
	if err != nil || fi.Size() > 8<<10 {
		t.Fatalf("lock file size %v (%v), want at most 8 KiB", fi.Size(), err)
	}
	info := pigtest.ReadLockInfo(t, lockPath)
	if !strings.Contains(info.Error, "[cut: ") || !strings.Contains(info.Error, "the log has the whole text") {
		t.Errorf("stored error does not say where it was cut: ...%s", info.Error[max(0, len(info.Error)-120):])
	}
	next, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	if _, err := next.Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("next Start = %v, want ErrStaleLock", err)
	}
	taker, _ := pigging.New(logPath, lockPath, append(pigtest.QuietOpts(), pigging.WithStaleLock(pigging.TakeOver))...)
	if _, err := taker.Start(context.Background()); err != nil {
		t.Fatalf("TakeOver: %v", err)
	}
	if err := taker.Stop(); err != nil {
		t.Fatal(err)
	}
}

// Item 6: os.Chdir during a run with relative paths: Stop settles the
// right lock file.
func TestHardeningChdirDuringRun(t *testing.T) {
	home, elsewhere := t.TempDir(), t.TempDir()
	t.Chdir(home)
	for _, fail := range []bool{false, true} {
		err := pigging.Run(context.Background(), "job.log", "job.lock", func(ctx context.Context, tr *pigging.Tracker) error {
			if err := os.Chdir(elsewhere); err != nil {
				return err
			}
			if fail {
				return errors.New("failed after chdir")
			}
			return nil
		}, pigtest.QuietOpts()...)
		if err := os.Chdir(home); err != nil {
			t.Fatal(err)
		}
		_, lockErr := os.Lstat(filepath.Join(home, "job.lock"))
		switch {
		case !fail && (err != nil || !errors.Is(lockErr, os.ErrNotExist)):
			t.Errorf("successful run: Run = %v, lock %v; want nil and the lock removed", err, lockErr)
		case fail && (err == nil || lockErr != nil):
			t.Errorf("failed run: Run = %v, lock %v; want the error and the lock kept", err, lockErr)
		}
		if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
			t.Errorf("files written in the directory changed to: %d", len(entries))
		}
		if fail {
			if info := pigtest.ReadLockInfo(t, filepath.Join(home, "job.lock")); info.Status != pigging.StateFailure {
				t.Errorf("lock = %+v, want failed", info)
			}
		}
	}
}

// Item 7a: a FIFO at the log path never hangs a run, refused or not.
func TestHardeningFIFOAtLogPath(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	if err := syscall.Mkfifo(logPath, 0o644); err != nil {
		t.Fatal(err)
	}
	tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	var err error
	withTimeout(t, 10*time.Second, "Start with a FIFO at the log path", func() { _, err = tr.Start(context.Background()) })
	var pe *pigging.PathError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Start = %v, want a *PathError saying it is not a regular file", err)
	}
	// A refused run appends to the log: with a FIFO there, it must not hang.
	pigtest.WriteFile(t, lockPath, `{"pid":1,"host":"h","job":"j","started":"2026-01-01T00:00:00Z","status":"failed","error":"x"}`)
	withTimeout(t, 10*time.Second, "a refused Start with a FIFO at the log path", func() { _, err = tr.Start(context.Background()) })
	if err == nil {
		t.Error("Start with a FIFO at the log path and a stale lock succeeded")
	}
}

// Item 7b: a hard-linked log is refused, and its other name is untouched.
func TestHardeningHardLinkedLog(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	other := filepath.Join(dir, "precious")
	pigtest.WriteFile(t, other, "precious data\n")
	if err := os.Link(other, logPath); err != nil {
		t.Fatal(err)
	}
	tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	_, err := tr.Start(context.Background())
	if !strings.Contains(fmt.Sprint(err), "hard links") {
		t.Errorf("Start = %v, want a refusal naming the hard links", err)
	}
	if data, _ := os.ReadFile(other); string(data) != "precious data\n" {
		t.Errorf("the other name's content changed: %q", data)
	}
	if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused Start left a lock file: %v", err)
	}
}

// Items 7c and 7d: a job run as root refuses a log owned by another user,
// a directory others may write without the sticky bit, and a directory
// reached through a symlink another user owns.
func TestHardeningForeignFilesAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("these refusals apply to jobs run as root; this test runs as uid", os.Geteuid())
	}
	const nobody = 65534
	t.Run("log owned by another user", func(t *testing.T) {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "job.log")
		pigtest.WriteFile(t, logPath, "theirs\n")
		if err := os.Chown(logPath, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		tr, _ := pigging.New(logPath, filepath.Join(dir, "job.lock"), pigtest.QuietOpts()...)
		if _, err := tr.Start(context.Background()); !strings.Contains(fmt.Sprint(err), "owned by uid 65534") {
			t.Errorf("Start = %v, want a refusal naming the owner", err)
		}
		if data, _ := os.ReadFile(logPath); string(data) != "theirs\n" {
			t.Errorf("their file was written: %q", data)
		}
	})
	t.Run("directory others may write", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "shared")
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		tr, _ := pigging.New(filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock"), pigtest.QuietOpts()...)
		if _, err := tr.Start(context.Background()); !strings.Contains(fmt.Sprint(err), "which others may write") {
			t.Errorf("Start = %v, want a refusal naming the directory", err)
		}
	})
	t.Run("symlinked directory owned by another user", func(t *testing.T) {
		base := t.TempDir()
		real := filepath.Join(base, "real")
		if err := os.Mkdir(real, 0o755); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(base, "logs")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(link, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		tr, _ := pigging.New(filepath.Join(link, "job.log"), filepath.Join(link, "job.lock"), pigtest.QuietOpts()...)
		if _, err := tr.Start(context.Background()); !strings.Contains(fmt.Sprint(err), "symlink") {
			t.Errorf("Start = %v, want a refusal naming the symlink", err)
		}
		if entries, _ := os.ReadDir(real); len(entries) != 0 {
			t.Errorf("files written through the symlink: %d", len(entries))
		}
	})
}

// Item 8: an empty lock file that nobody holds is stale at once, even with
// a modification time in the future, never reported as a live run.
func TestHardeningEmptyLockFromTheFuture(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	pigtest.WriteFile(t, lockPath, "")
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(lockPath, future, future); err != nil {
		t.Fatal(err)
	}
	tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	_, err := tr.Start(context.Background())
	if !errors.Is(err, pigging.ErrStaleLock) || strings.Contains(err.Error(), "in progress") {
		t.Fatalf("Start = %v, want ErrStaleLock for an empty unheld lock", err)
	}
	taker, _ := pigging.New(logPath, lockPath, append(pigtest.QuietOpts(), pigging.WithStaleLock(pigging.TakeOver))...)
	if _, err := taker.Start(context.Background()); err != nil {
		t.Fatalf("TakeOver: %v", err)
	}
	if err := taker.Stop(); err != nil {
		t.Fatal(err)
	}
}

// Item 9: a failure that reaches the log is the run's outcome, however
// LogException and Stop race.
func TestHardeningLogExceptionRacingStop(t *testing.T) {
	rounds := 10000
	if testing.Short() {
		rounds = 300
	}
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	lost := 0
	for round := range rounds {
		_ = os.Remove(lockPath)
		tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
		if _, err := tr.Start(context.Background()); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr.LogException(errors.New("racing failure"))
		}()
		_ = tr.Stop()
		wg.Wait()
		data, _ := os.ReadFile(logPath)
		inLog := strings.Contains(string(data), "| ERROR: racing failure\n")
		_, lockErr := os.Lstat(lockPath)
		if inLog && lockErr != nil {
			lost++
		}
		if inLog && strings.Index(string(data), "racing failure") > strings.Index(string(data), "TOTAL SCRIPT TIME") {
			t.Fatalf("round %d: the failure was logged after TOTAL SCRIPT TIME", round)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d rounds logged the failure yet removed the lock", lost, rounds)
	}
}

// Item 10: runtime.Goexit inside a stage under Run ends the run as failed
// at once, saying the function exited without returning.
func TestHardeningGoexitInStage(t *testing.T) {
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "job.lock")
	var err error
	withTimeout(t, 10*time.Second, "Run with runtime.Goexit in a stage", func() {
		err = pigging.Run(context.Background(), filepath.Join(dir, "job.log"), lockPath, func(ctx context.Context, tr *pigging.Tracker) error {
			return middleware.Stage("exit", func(context.Context) error {
				runtime.Goexit()
				return nil
			})(ctx)
		}, pigtest.QuietOpts()...)
	})
	if err == nil || !strings.Contains(err.Error(), "exited without returning") {
		t.Fatalf("Run = %v, want an error saying the function exited without returning", err)
	}
	if info := pigtest.ReadLockInfo(t, lockPath); info.Status != pigging.StateFailure || !strings.Contains(info.Error, "exited without returning") {
		t.Errorf("lock = %+v, want failed", info)
	}
}

// Item 11: a file mode without owner write is refused by New, so no Start
// leaves a file the next run cannot write.
func TestHardeningReadOnlyFileMode(t *testing.T) {
	dir := t.TempDir()
	_, err := pigging.New(filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock"), pigging.WithFileMode(0o444))
	if err == nil || !strings.Contains(err.Error(), "WithFileMode") || !strings.Contains(err.Error(), "write") {
		t.Fatalf("New with 0444 = %v, want an error naming WithFileMode and write permission", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("New created %d files", len(entries))
	}
}

// Item 12: TOTAL SCRIPT TIME is the last record of the file; records that
// arrive once Stop began go to stderr, never after it.
func TestHardeningRecordsAfterTheLastLine(t *testing.T) {
	for round := range 50 {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "job.log")
		tr, _ := pigging.New(logPath, filepath.Join(dir, "job.lock"), pigtest.QuietOpts()...)
		if _, err := tr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		var accepted atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if err := tr.Log(slog.LevelInfo, "worker record"); err != nil {
						return
					}
					accepted.Add(1)
				}
			}()
		}
		time.Sleep(2 * time.Millisecond)
		if err := tr.Stop(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		texts := proctest.RecordTexts(t, logPath)
		if last := texts[len(texts)-1]; !strings.HasPrefix(last, "INFO: TOTAL SCRIPT TIME: ") {
			t.Fatalf("round %d: last record %q, want TOTAL SCRIPT TIME", round, last)
		}
		if n := int64(strings.Count(strings.Join(texts, "\n"), "INFO: worker record")); n != accepted.Load() {
			t.Fatalf("round %d: %d worker records in the log, %d accepted by Log", round, n, accepted.Load())
		}
	}
}

// Item 14: the lock file is always whole JSON, whoever reads it while a run
// writes its failure and stops, and no temporary file is left behind.
func TestHardeningLockAlwaysWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("a reader racing a run's lock writes and stops, for seconds: runs in the full test command")
	}
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	stop := make(chan struct{})
	var reads, bad atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			f, err := os.Open(lockPath)
			if err != nil {
				continue
			}
			data, _ := io.ReadAll(f)
			f.Close()
			reads.Add(1)
			var info pigging.LockInfo
			if json.Unmarshal(data, &info) != nil {
				bad.Add(1)
			}
		}
	}()
	for range 200 {
		_ = os.Remove(lockPath)
		tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
		if _, err := tr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		tr.LogException(errors.New("failed"))
		if err := tr.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d of %d reads found a lock file that is not whole JSON", bad.Load(), reads.Load())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d files in the directory, want the log, the lock and the run history", len(entries))
	}
}

// Item 4 (refusals): a refused run appending to a log that ends in a cut
// record starts its record on a line of its own.
func TestHardeningRefusalAfterCutRecord(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	pigtest.WriteFile(t, logPath, "2026-11-30 02:00:00.000 | INFO: a record cut by a full di")
	pigtest.WriteFile(t, lockPath, `{"pid":1,"host":"h","job":"j","started":"2026-01-01T00:00:00Z","status":"failed","error":"disk full"}`)
	tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	if _, err := tr.Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("Start = %v, want ErrStaleLock", err)
	}
	data, _ := os.ReadFile(logPath)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "full di") || !strings.Contains(lines[1], "| ERROR: Locked: ") {
		t.Errorf("log after the refusal:\n%s", data)
	}
}
