package reliability_test

// Bad input (design §6): each gets a typed or wrapped error naming the path
// or argument, and nothing else changes: no lock file left behind, no log
// truncated, no file behind a symlink touched. Every case snapshots its
// directory before and after.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

// TestReliabilityBadPaths tries every kind of bad log or lock path. One
// that needs no I/O to see (empty, or the log and lock one file) is
// refused by New, which returns no Tracker; any other by Start, which can
// be tried again and leaves the Tracker unstarted. Either way the error is
// a *PathError naming the path, its role and what is wrong, and the
// directory is byte for byte as it was: no lock left behind, no log
// truncated, nothing behind a symlink touched.
func TestReliabilityBadPaths(t *testing.T) {
	type paths struct{ dir, log, lock, precious string }
	// Each case builds its files in dir, then tries New and Start.
	cases := []struct {
		name  string
		setup func(t *testing.T, p *paths)
		// atNew: the error comes from New (no I/O); else from Start.
		atNew bool
		role  string // the path to blame: "log" or "lock"
		why   string
	}{
		{"empty log path", func(t *testing.T, p *paths) { p.log = "" }, true, "log", "is empty"},
		{"empty lock path", func(t *testing.T, p *paths) { p.lock = "" }, true, "lock", "is empty"},
		{"same path", func(t *testing.T, p *paths) { p.lock = p.log }, true, "lock", "same file as the log"},
		{"same path relative", func(t *testing.T, p *paths) { p.log, p.lock = "job.log", "./job.log" }, true, "lock", "same file as the log"},
		{"same path after cleaning", func(t *testing.T, p *paths) {
			p.lock = filepath.Join(p.dir, "sub", "..", "job.log")
			pigtest.Mkdir(t, filepath.Join(p.dir, "sub"))
		}, true, "lock", "same file as the log"},
		{"same path relative and absolute", func(t *testing.T, p *paths) {
			wd, err := os.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			// Both are absolute paths on one volume, so a relative one exists.
			rel, err := filepath.Rel(wd, p.log)
			if err != nil {
				t.Fatalf("relative path from %s to %s: %v", wd, p.log, err)
			}
			p.lock = rel
		}, true, "lock", "same file as the log"},
		{"missing log directory", func(t *testing.T, p *paths) { p.log = filepath.Join(p.dir, "nope", "job.log") }, false, "log", "does not exist"},
		{"missing lock directory", func(t *testing.T, p *paths) { p.lock = filepath.Join(p.dir, "nope", "job.lock") }, false, "lock", "does not exist"},
		{"log directory is a file", func(t *testing.T, p *paths) { p.log = filepath.Join(p.precious, "job.log") }, false, "log", "not a directory"},
		{"lock directory is a file", func(t *testing.T, p *paths) { p.lock = filepath.Join(p.precious, "job.lock") }, false, "lock", "not a directory"},
		{"directory at log path", func(t *testing.T, p *paths) { pigtest.Mkdir(t, p.log) }, false, "log", "is a directory"},
		{"directory at lock path", func(t *testing.T, p *paths) { pigtest.Mkdir(t, p.lock) }, false, "lock", "is a directory"},
		{"symlink at log path to an owned file", func(t *testing.T, p *paths) { pigtest.Symlink(t, p.precious, p.log) }, false, "log", "is a symlink"},
		{"symlink at lock path to an owned file", func(t *testing.T, p *paths) { pigtest.Symlink(t, p.precious, p.lock) }, false, "lock", "is a symlink"},
		{"dangling symlink at log path", func(t *testing.T, p *paths) { pigtest.Symlink(t, filepath.Join(p.dir, "target.log"), p.log) }, false, "log", "is a symlink"},
		{"dangling symlink at lock path", func(t *testing.T, p *paths) { pigtest.Symlink(t, filepath.Join(p.dir, "target.lock"), p.lock) }, false, "lock", "is a symlink"},
		{"symlink at lock path to the log", func(t *testing.T, p *paths) {
			pigtest.WriteFile(t, p.log, "an old run's log\n")
			pigtest.Symlink(t, p.log, p.lock)
		}, false, "lock", "is a symlink"},
		{"fifo at log path", func(t *testing.T, p *paths) { mkfifo(t, p.log) }, false, "log", "is not a regular file"},
		{"fifo at lock path", func(t *testing.T, p *paths) { mkfifo(t, p.lock) }, false, "lock", "is not a regular file"},
		{"log in a read-only directory", func(t *testing.T, p *paths) {
			ro := filepath.Join(p.dir, "ro")
			pigtest.Mkdir(t, ro)
			p.log = filepath.Join(ro, "job.log")
			makeReadOnly(t, ro)
		}, false, "log", ""},
		{"lock in a read-only directory", func(t *testing.T, p *paths) {
			ro := filepath.Join(p.dir, "ro")
			pigtest.Mkdir(t, ro)
			p.lock = filepath.Join(ro, "job.lock")
			makeReadOnly(t, ro)
		}, false, "lock", ""},
	}
	tried := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := &paths{dir: dir, log: filepath.Join(dir, "job.log"), lock: filepath.Join(dir, "job.lock"), precious: filepath.Join(dir, "precious.txt")}
			pigtest.WriteFile(t, p.precious, "a file the test owns\n")
			tc.setup(t, p)
			// A log that is a regular file belongs to a previous run: it
			// must not be truncated.
			if p.log == filepath.Join(dir, "job.log") {
				if _, err := os.Lstat(p.log); errors.Is(err, fs.ErrNotExist) {
					pigtest.WriteFile(t, p.log, "2026-01-01 00:00:00.000 | INFO: the previous run's log\n")
				}
			}
			before := snapDir(t, dir)
			blame := p.lock
			if tc.role == "log" {
				blame = p.log
			}
			tr, err := pigging.New(p.log, p.lock, pigtest.QuietOpts()...)
			if tc.atNew {
				wantPathError(t, err, tc.role, blame, tc.why)
				if tr != nil {
					t.Errorf("New returned a Tracker with its error")
				}
			} else {
				if err != nil {
					t.Fatalf("New: %v, want the problem reported by Start (New touches no file)", err)
				}
				for try := range 2 { // a failed Start leaves the Tracker unstarted
					ctx, err := tr.Start(context.Background())
					wantPathError(t, err, tc.role, blame, tc.why)
					if errors.Is(err, pigging.ErrLocked) {
						t.Errorf("a path problem reads as a lock problem: %v", err)
					}
					if ctx == nil || pigging.FromContext(ctx) != nil {
						t.Errorf("try %d: a failed Start returned a ctx with the Tracker", try)
					}
				}
				if err := tr.Log(slog.LevelInfo, "x"); !errors.Is(err, pigging.ErrNotStarted) {
					t.Errorf("Log after a failed Start: %v, want ErrNotStarted", err)
				}
				if err := tr.Stop(); !errors.Is(err, pigging.ErrNotStarted) {
					t.Errorf("Stop after a failed Start: %v, want ErrNotStarted", err)
				}
			}
			if d := diffSnap(before, snapDir(t, dir)); len(d) > 0 {
				t.Errorf("a refused %s changed files:\n%s", tc.name, strings.Join(d, "\n"))
			}
			tried++
		})
	}
	t.Logf("%d bad paths tried", tried)
}

// TestReliabilityReadOnlyDirectory: a directory where the job may not write.
// As a normal user, a 0555 directory refuses the files; as root (CI runs as
// root) permissions do not stop root, so the test then makes the directory
// immutable (chattr +i), which stops root too, and checks the same
// promises: a clear error, nothing created, nothing left behind.
func TestReliabilityReadOnlyDirectory(t *testing.T) {
	root := os.Geteuid() == 0
	t.Run("both in a read-only directory", func(t *testing.T) {
		dir := t.TempDir()
		ro := filepath.Join(dir, "ro")
		pigtest.Mkdir(t, ro)
		pigtest.WriteFile(t, filepath.Join(ro, "job.log"), "the last run's log\n")
		before := snapDir(t, dir)
		makeReadOnly(t, ro)
		tr, err := pigging.New(filepath.Join(ro, "job.log"), filepath.Join(ro, "job.lock"), pigtest.QuietOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.Start(context.Background())
		var pe *pigging.PathError
		if !errors.As(err, &pe) || pe.Op != "lock" {
			t.Fatalf("Start in a read-only directory: %v, want a lock *PathError", err)
		}
		undoReadOnly(t, ro)
		if d := diffSnap(before, snapDir(t, dir)); len(d) > 0 {
			t.Errorf("changed files:\n%s", strings.Join(d, "\n"))
		}
	})
	// The lock can be taken but the log cannot be written: Start must give
	// the lock back and leave no lock file.
	t.Run("read-only log file", func(t *testing.T) {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "job.log")
		pigtest.WriteFile(t, logPath, "the last run's log\n")
		makeReadOnly(t, logPath)
		before := snapDir(t, dir)
		tr, err := pigging.New(logPath, filepath.Join(dir, "job.lock"), pigtest.QuietOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.Start(context.Background())
		var pe *pigging.PathError
		if !errors.As(err, &pe) || pe.Op != "log" {
			t.Fatalf("Start with a read-only log: %v, want a log *PathError", err)
		}
		if d := diffSnap(before, snapDir(t, dir)); len(d) > 0 {
			t.Errorf("changed files (a lock left behind?):\n%s", strings.Join(d, "\n"))
		}
	})
	// TakeOver of a stale lock whose log cannot be kept as .prev: Start
	// fails and puts the stale lock back as it was.
	t.Run("takeover with a read-only log directory", func(t *testing.T) {
		dir := t.TempDir()
		ro := filepath.Join(dir, "ro")
		pigtest.Mkdir(t, ro)
		logPath := filepath.Join(ro, "job.log")
		lockPath := filepath.Join(dir, "job.lock")
		pigtest.WriteFile(t, logPath, "the failed run's log\n")
		pigtest.WriteFile(t, lockPath, `{"pid":4242,"host":"h","job":"bad","started":"2026-11-27T20:17:06Z","status":"failed","error":"boom"}`+"\n")
		before := snapDir(t, dir)
		makeReadOnly(t, ro)
		tr, err := pigging.New(logPath, lockPath, pigtest.QuietOpts(pigging.WithStaleLock(pigging.TakeOver))...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.Start(context.Background())
		var pe *pigging.PathError
		if !errors.As(err, &pe) || pe.Op != "log" {
			t.Fatalf("TakeOver with a read-only log directory: %v, want a log *PathError", err)
		}
		undoReadOnly(t, ro)
		if d := diffSnap(before, snapDir(t, dir)); len(d) > 0 {
			t.Errorf("changed files (the stale lock not put back?):\n%s", strings.Join(d, "\n"))
		}
	})
	t.Logf("running as root: %v", root)
}

// makeReadOnly makes a directory or file unwritable for this process: mode
// 0555 or 0444, and as root, the immutable attribute. When it cannot (root
// without chattr, whom permissions do not stop), it checks what still
// holds, that a run there works and cleans up after itself, then skips the
// test, saying why.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	dir := path
	mode := fs.FileMode(0o555)
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		dir, mode = filepath.Dir(path), 0o444
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { undoReadOnly(t, path) })
	if os.Geteuid() != 0 {
		return
	}
	chattr, err := exec.LookPath("chattr")
	if err == nil {
		err = exec.Command(chattr, "+i", path).Run()
	}
	if err != nil {
		tr, nerr := pigging.New(filepath.Join(dir, "x.log"), filepath.Join(dir, "x.lock"), pigtest.QuietOpts()...)
		if nerr != nil {
			t.Fatal(nerr)
		}
		if _, serr := tr.Start(context.Background()); serr != nil {
			t.Fatalf("root in a 0555 directory: %v", serr)
		}
		if serr := tr.Stop(); serr != nil {
			t.Fatal(serr)
		}
		if _, serr := os.Lstat(filepath.Join(dir, "x.lock")); serr == nil {
			t.Errorf("lock left behind")
		}
		t.Skipf("cannot make %s read-only: running as root, whom mode %v does not stop, and chattr +i failed (%v); checked instead that a run there works and leaves no lock", path, mode, err)
	}
}

func undoReadOnly(t *testing.T, path string) {
	if os.Geteuid() == 0 {
		if chattr, err := exec.LookPath("chattr"); err == nil {
			_ = exec.Command(chattr, "-i", path).Run()
		}
	}
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		_ = os.Chmod(path, 0o644)
		return
	}
	_ = os.Chmod(path, 0o755)
}

func TestReliabilityBadArguments(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job.log")
	lockPath := filepath.Join(dir, "job.lock")
	tried := 0
	// check asserts nothing changed after name, which tried n misuses.
	check := func(name string, n int, before dirSnapshot, allowed ...string) {
		t.Helper()
		tried += n
		if d := diffSnap(before, snapDir(t, dir), allowed...); len(d) > 0 {
			t.Errorf("%s changed files:\n%s", name, strings.Join(d, "\n"))
		}
	}

	// Invalid options fail New, which returns no Tracker, and touch nothing.
	for _, tc := range []struct {
		name string
		opt  pigging.Option
		want string
	}{
		{"empty name", pigging.WithName(""), "WithName"},
		{"blank name", pigging.WithName("  "), "WithName"},
		{"negative budget", pigging.WithEventBudget(-1), "WithEventBudget"},
		{"mode with type bits", pigging.WithFileMode(fs.ModeDir | 0o644), "WithFileMode"},
		{"unknown stale policy", pigging.WithStaleLock(pigging.StalePolicy(9)), "WithStaleLock"},
	} {
		before := snapDir(t, dir)
		tr, err := pigging.New(logPath, lockPath, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with %s: %v, want an error naming %s", tc.name, err, tc.want)
		}
		if tr != nil {
			t.Errorf("New with %s returned a Tracker with its error", tc.name)
		}
		check("New with "+tc.name, 1, before)
	}

	// Every problem at once: New names them all.
	before := snapDir(t, dir)
	if _, err := pigging.New("", "", pigging.WithName(""), pigging.WithEventBudget(-3)); err == nil {
		t.Errorf("New with every problem at once: no error")
	} else {
		for _, want := range []string{"log path", "lock path", "WithName", "WithEventBudget"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("New with every problem at once: %v does not say %q", err, want)
			}
		}
	}
	check("New with every problem at once", 1, before)

	// A nil function to Run.
	before = snapDir(t, dir)
	if err := pigging.Run(context.Background(), logPath, lockPath, nil, pigtest.QuietOpts()...); err == nil || !strings.Contains(err.Error(), "fn") {
		t.Errorf("Run(nil): %v, want an error naming fn", err)
	}
	check("Run(nil)", 1, before)

	// Lifecycle misuse before Start: errors, no file.
	tr, err := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	before = snapDir(t, dir)
	if err := tr.Log(slog.LevelInfo, "too early"); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Log before Start: %v", err)
	}
	tr.Info("too early")
	if err := tr.Logger().Handler().Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, "too early", 0)); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Logger before Start: %v", err)
	}
	if err := tr.LogException(errors.New("early")); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("LogException before Start: %v", err)
	}
	if err := tr.Stop(); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Stop before Start: %v", err)
	}
	check("misuse before Start", 5, before)

	// Start, then misuse during the run: Start twice leaves the log as it is.
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.Info("the run's record")
	before = snapDir(t, dir)
	if _, err := tr.Start(context.Background()); !errors.Is(err, pigging.ErrAlreadyStarted) {
		t.Errorf("Start twice: %v", err)
	}
	check("Start twice", 1, before)

	// Unknown levels: ErrInvalidLevel, whatever the minimum, and no record.
	for _, l := range []slog.Level{-8, -1, 1, 2, 3, 5, 7, 9, 12, 100} {
		if err := tr.Log(l, "bad level"); !errors.Is(err, pigging.ErrInvalidLevel) || !strings.Contains(err.Error(), l.String()) {
			t.Errorf("Log(%v): %v, want ErrInvalidLevel naming the level", l, err)
		}
		check("Log("+l.String()+")", 1, before)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}

	// After Stop: ErrStopped everywhere, and Start does not take the lock again.
	before = snapDir(t, dir)
	if err := tr.Log(slog.LevelInfo, "too late"); !errors.Is(err, pigging.ErrStopped) {
		t.Errorf("Log after Stop: %v", err)
	}
	if err := tr.Stop(); !errors.Is(err, pigging.ErrStopped) {
		t.Errorf("Stop twice: %v", err)
	}
	if _, err := tr.Start(context.Background()); !errors.Is(err, pigging.ErrStopped) {
		t.Errorf("Start after Stop: %v", err)
	}
	if err := tr.LogException(errors.New("late")); !errors.Is(err, pigging.ErrStopped) {
		t.Errorf("LogException after Stop: %v", err)
	}
	check("misuse after Stop", 4, before)

	// An invalid level on a Tracker with a high minimum is still invalid.
	tr2, err := pigging.New(logPath, lockPath, pigtest.QuietOpts(pigging.WithMinLevel(slog.LevelError))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr2.Log(slog.Level(3), "x"); !errors.Is(err, pigging.ErrInvalidLevel) {
		t.Errorf("Log(3) under a minimum of ERROR: %v", err)
	}
	check("Log(3) under a minimum", 1, before)
	t.Logf("%d bad arguments and misuses tried", tried)
}

// TestReliabilityBadLockFiles: a lock file nobody holds but that is
// corrupt, truncated, empty, huge, or written by a later version. Start is
// refused with a clear message (or, for the later version, reads what it
// knows), never panics, and changes nothing but appending its Locked line
// to the log.
func TestReliabilityBadLockFiles(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	cases := []struct {
		name    string
		content string
		old     bool   // make the file old (an empty fresh file is one being created)
		want    string // in the error
		holder  int    // the pid the error must name; 0: no holder
	}{
		{"garbage", "this is not json\x00\xff", false, "not pigging's JSON", 0},
		{"truncated json", `{"pid":4242,"host":"h","job":"x","sta`, false, "not pigging's JSON", 0},
		{"json null", "null", false, "names no process", 0},
		{"json empty object", "{}", false, "names no process", 0},
		{"json array", "[1,2,3]", false, "not pigging's JSON", 0},
		{"wrong types", `{"pid":"4242","status":7}`, false, "not pigging's JSON", 0},
		{"bad time", `{"pid":4242,"started":"yesterday","status":"running"}`, false, "not pigging's JSON", 0},
		{"empty and old, as the Python original leaves it", "", true, "does not say which run left it (it is empty)", 0},
		{"only whitespace", " \n\t\n", true, "not pigging's JSON", 0},
		{"future version", `{"pid":4242,"host":"h","job":"bad","started":"2026-11-27T20:17:06.123456789Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","status":"failed","error":"boom","version":3,"attempt":{"n":2,"of":[1,2]},"labels":null}`, false, "pid 4242 on h (job bad) started 2026-11-27T20:17:06Z failed: boom", 4242},
		{"future status", `{"pid":4242,"job":"bad","started":"2026-11-27T20:17:06Z","status":"paused"}`, false, "pid 4242 (job bad) started 2026-11-27T20:17:06Z died without stopping", 4242},
		{"bad trace id", `{"pid":4242,"job":"bad","trace_id":"zz","span_id":"short","status":"failed"}`, false, "pid 4242 (job bad) failed", 4242},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			logPath := filepath.Join(dir, "job.log")
			lockPath := filepath.Join(dir, "job.lock")
			pigtest.WriteFile(t, logPath, "the previous run's log\n")
			pigtest.WriteFile(t, lockPath, tc.content)
			if tc.old {
				if err := os.Chtimes(lockPath, old, old); err != nil {
					t.Fatal(err)
				}
			}
			before := snapDir(t, dir)
			tr, err := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tr.Start(context.Background())
			var lerr *pigging.LockError
			if !errors.Is(err, pigging.ErrStaleLock) || !errors.As(err, &lerr) {
				t.Fatalf("Start: %v, want ErrStaleLock", err)
			}
			for _, w := range []string{tc.want, "pigging unlock --lock " + lockPath} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tc.holder == 0 && lerr.Holder != nil || tc.holder != 0 && (lerr.Holder == nil || lerr.Holder.PID != tc.holder) {
				t.Errorf("Holder = %+v, want pid %d", lerr.Holder, tc.holder)
			}
			// The log gets the refusal's record, the history its entry.
			if d := diffSnap(before, snapDir(t, dir), "job.log", "job.lock.history"); len(d) > 0 {
				t.Errorf("changed files:\n%s", strings.Join(d, "\n"))
			}
			logData, _ := os.ReadFile(logPath)
			if !strings.HasPrefix(string(logData), "the previous run's log\n") || strings.Count(string(logData), "\n") != 2 || !strings.Contains(string(logData), "| ERROR: Locked: ") {
				t.Errorf("log after the refusal: %q, want the old log and one Locked line", logData)
			}
			proctest.CheckLogText(t, logPath, logData[len("the previous run's log\n"):], false)
		})
	}

	// A lock file too large to be pigging's is stale with that reason, and
	// TakeOver takes it over (hardening item 5).
	t.Run("larger than 1 MiB", func(t *testing.T) {
		dir := t.TempDir()
		lockPath := filepath.Join(dir, "job.lock")
		pigtest.WriteFile(t, lockPath, `{"pid":1,"error":"`+strings.Repeat("x", 2<<20)+`"}`)
		tr, err := pigging.New(filepath.Join(dir, "job.log"), lockPath, pigtest.QuietOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.Start(context.Background())
		if !errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), "larger than 64 KiB") {
			t.Fatalf("Start: %v, want ErrStaleLock saying the file is too large", err)
		}
		taker, _ := pigging.New(filepath.Join(dir, "job.log"), lockPath, append(pigtest.QuietOpts(), pigging.WithStaleLock(pigging.TakeOver))...)
		if _, err := taker.Start(context.Background()); err != nil {
			t.Fatalf("TakeOver of an oversized lock: %v", err)
		}
		if err := taker.Stop(); err != nil {
			t.Fatal(err)
		}
	})

	// Under TakeOver, the future version's lock is taken over and read.
	t.Run("future version taken over", func(t *testing.T) {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "job.log")
		lockPath := filepath.Join(dir, "job.lock")
		pigtest.WriteFile(t, lockPath, `{"pid":4242,"host":"h","job":"bad","started":"2026-11-27T20:17:06Z","status":"failed","error":"boom","version":3,"extra":{"a":1}}`)
		tr, err := pigging.New(logPath, lockPath, pigtest.QuietOpts(pigging.WithStaleLock(pigging.TakeOver))...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := tr.Stop(); err != nil {
			t.Fatal(err)
		}
		lines := proctest.ReadLogLines(t, logPath, false)
		if len(lines) != 3 || !strings.Contains(lines[1], "WARN: Took over a stale lock: previous run pid 4242 on h (job bad)") || !strings.Contains(lines[1], "failed: boom") {
			t.Fatalf("log:\n%s", strings.Join(lines, "\n"))
		}
	})
}

// dirSnapshot describes every entry under a directory: kind, permission
// bits, size, content hash, link target.
type dirSnapshot map[string]string

func snapDir(t testing.TB, dir string) dirSnapshot {
	t.Helper()
	s := dirSnapshot{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			s[rel] = "symlink -> " + target
		case fi.IsDir():
			s[rel] = fmt.Sprintf("dir %v", fi.Mode().Perm())
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			s[rel] = fmt.Sprintf("file %v %d %x", fi.Mode().Perm(), len(data), sha256.Sum256(data))
		default:
			s[rel] = fmt.Sprintf("other %v", fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", dir, err)
	}
	return s
}

// diffSnap lists what changed from a to b, except the names in allowed.
func diffSnap(a, b dirSnapshot, allowed ...string) []string {
	var diffs []string
	skip := map[string]bool{}
	for _, n := range allowed {
		skip[n] = true
	}
	for k, v := range a {
		if skip[k] {
			continue
		}
		if w, ok := b[k]; !ok {
			diffs = append(diffs, "removed "+k)
		} else if w != v {
			diffs = append(diffs, "changed "+k+": "+v+" -> "+w)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && !skip[k] {
			diffs = append(diffs, "created "+k)
		}
	}
	sort.Strings(diffs)
	return diffs
}

// wantPathError asserts err is a *PathError for role and path (as given,
// not made absolute) whose message names both, as in `log path "x"`, and
// says why.
func wantPathError(t *testing.T, err error, role, path, why string) {
	t.Helper()
	var pe *pigging.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want a *pigging.PathError", err, err)
	}
	if pe.Op != role {
		t.Errorf("PathError.Op = %q, want %q (%v)", pe.Op, role, err)
	}
	if pe.Path != path {
		t.Errorf("PathError.Path = %q, want %q (%v)", pe.Path, path, err)
	}
	if names := fmt.Sprintf("%s path %q", role, path); !strings.Contains(err.Error(), names) || !strings.Contains(err.Error(), why) {
		t.Errorf("error %q does not name %s and say %q", err, names, why)
	}
}
