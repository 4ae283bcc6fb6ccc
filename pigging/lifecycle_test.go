package pigging_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pigging-go/pigging/pigging"
)

func TestLifecycleErrors(t *testing.T) {
	t.Run("log before start", func(t *testing.T) {
		e := newUnitEnv(t)
		tr := e.tracker(t)
		if err := tr.Log(slog.LevelInfo, "too early"); !errors.Is(err, pigging.ErrNotStarted) {
			t.Errorf("Log before Start = %v, want ErrNotStarted", err)
		}
		tr.Info("too early") // goes to stderr; must not panic
		tr.Logger().Info("too early")
		if err := tr.LogException(errors.New("boom")); !errors.Is(err, pigging.ErrNotStarted) || err.Error() == "" {
			t.Errorf("LogException before Start = %v, want it to wrap ErrNotStarted", err)
		}
		unitNoFile(t, e.log)
		unitNoFile(t, e.lock)
	})
	t.Run("stop before start", func(t *testing.T) {
		e := newUnitEnv(t)
		tr := e.tracker(t)
		if err := tr.Stop(); !errors.Is(err, pigging.ErrNotStarted) {
			t.Errorf("Stop before Start = %v, want ErrNotStarted", err)
		}
		if _, err := tr.Start(context.Background()); err != nil {
			t.Fatalf("Start after a Stop that did nothing: %v", err)
		}
		if err := tr.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	t.Run("start twice", func(t *testing.T) {
		e := newUnitEnv(t)
		tr, ctx := e.start(t)
		tr.Info("first")
		ctx2, err := tr.Start(ctx)
		if !errors.Is(err, pigging.ErrAlreadyStarted) {
			t.Errorf("second Start = %v, want ErrAlreadyStarted", err)
		}
		if ctx2 != ctx {
			t.Errorf("second Start did not return the ctx it was given")
		}
		tr.Info("second")
		if err := tr.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), []string{"INFO: first", "INFO: second"})
		unitNoFile(t, e.lock)
	})
	t.Run("log after stop", func(t *testing.T) {
		e := newUnitEnv(t)
		tr, _ := e.start(t)
		if err := tr.Stop(); err != nil {
			t.Fatal(err)
		}
		before := unitReadFile(t, e.log)
		if err := tr.Log(slog.LevelWarn, "too late"); !errors.Is(err, pigging.ErrStopped) {
			t.Errorf("Log after Stop = %v, want ErrStopped", err)
		}
		tr.Error("too late")
		tr.Logger().Error("too late")
		if err := tr.LogException(errors.New("late")); !errors.Is(err, pigging.ErrStopped) {
			t.Errorf("LogException after Stop = %v, want it to wrap ErrStopped", err)
		}
		if after := unitReadFile(t, e.log); after != before {
			t.Errorf("the log changed after Stop:\n%s", after)
		}
	})
	t.Run("stop twice", func(t *testing.T) {
		e := newUnitEnv(t)
		tr, _ := e.start(t)
		if err := tr.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := tr.Stop(); !errors.Is(err, pigging.ErrStopped) {
			t.Errorf("second Stop = %v, want ErrStopped", err)
		}
		if n := len(unitSpansNamed(e.rec, unitJob)); n != 1 {
			t.Errorf("got %d run spans, want 1", n)
		}
		if got := strings.Count(e.out.String(), "TOTAL SCRIPT TIME"); got != 1 {
			t.Errorf("TOTAL SCRIPT TIME printed %d times, want once", got)
		}
	})
	t.Run("start after stop", func(t *testing.T) {
		e := newUnitEnv(t)
		tr, _ := e.start(t)
		tr.Info("the run")
		if err := tr.Stop(); err != nil {
			t.Fatal(err)
		}
		before := unitReadFile(t, e.log)
		if _, err := tr.Start(context.Background()); !errors.Is(err, pigging.ErrStopped) {
			t.Errorf("Start after Stop = %v, want ErrStopped", err)
		}
		unitNoFile(t, e.lock)
		if after := unitReadFile(t, e.log); after != before {
			t.Errorf("Start after Stop touched the log:\n%s", after)
		}
	})
}

func TestLogInvalidLevel(t *testing.T) {
	levels := []slog.Level{slog.LevelDebug - 4, slog.LevelDebug + 1, slog.LevelInfo + 2, slog.LevelWarn - 1, slog.LevelError + 4, 100}
	e := newUnitEnv(t)
	tr := e.tracker(t)
	for _, l := range levels {
		if err := tr.Log(l, "before start"); !errors.Is(err, pigging.ErrInvalidLevel) {
			t.Errorf("Log(%v) before Start = %v, want ErrInvalidLevel", l, err)
		}
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, l := range levels {
		err := tr.Log(l, "bad level")
		if !errors.Is(err, pigging.ErrInvalidLevel) {
			t.Errorf("Log(%v) = %v, want ErrInvalidLevel (even below the minimum level)", l, err)
		} else if !strings.Contains(err.Error(), l.String()) {
			t.Errorf("Log(%v) error %q does not name the level", l, err)
		}
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := unitBetween(t, unitRecords(t, e.log)); len(got) != 0 {
		t.Errorf("records with an invalid level were written: %q", got)
	}
	unitNoFile(t, e.lock) // an invalid level does not fail the run
}

func TestLogException(t *testing.T) {
	t.Run("nil", func(t *testing.T) {
		e := newUnitEnv(t)
		tr := e.tracker(t)
		if err := tr.LogException(nil); err != nil {
			t.Errorf("LogException(nil) before Start = %v, want nil", err)
		}
		if _, err := tr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := tr.LogException(nil); err != nil {
			t.Errorf("LogException(nil) = %v, want nil", err)
		}
		if err := tr.Stop(); err != nil {
			t.Fatal(err)
		}
		if got := unitBetween(t, unitRecords(t, e.log)); len(got) != 0 {
			t.Errorf("LogException(nil) wrote %q", got)
		}
		unitNoFile(t, e.lock) // and did not fail the run
	})
	t.Run("same error value", func(t *testing.T) {
		e := newUnitEnv(t)
		tr, _ := e.start(t)
		want := &unitError{"load failed"}
		if got := tr.LogException(want); got != error(want) {
			t.Errorf("LogException returned %#v, want the same error value %#v", got, want)
		}
		wrapped := errors.Join(errors.New("a"), errors.New("b"))
		if got := tr.LogException(wrapped); got != wrapped {
			t.Errorf("LogException returned %#v, want %#v", got, wrapped)
		}
	})
}

// unitError is an error type of the test's own.
type unitError struct{ msg string }

func (e *unitError) Error() string { return e.msg }

func TestRefusedStartLeavesTrackerUnstarted(t *testing.T) {
	e := newUnitEnv(t)
	first, _ := e.start(t)
	second := e.tracker(t)
	if _, err := second.Start(context.Background()); !errors.Is(err, pigging.ErrLocked) {
		t.Fatalf("Start while held = %v, want ErrLocked", err)
	}
	if err := second.Log(slog.LevelInfo, "x"); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Log after a refused Start = %v, want ErrNotStarted", err)
	}
	if err := second.Stop(); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Stop after a refused Start = %v, want ErrNotStarted", err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Start(context.Background()); err != nil {
		t.Fatalf("Start once the lock is free: %v", err)
	}
	second.Info("second run")
	if err := second.Stop(); err != nil {
		t.Fatal(err)
	}
	// The second run's fresh log has only its own records.
	unitEqualLines(t, "second run's log", unitBetween(t, unitRecords(t, e.log)), []string{"INFO: second run"})
	unitNoFile(t, e.lock)
}

func TestStartTruncatesThePreviousLog(t *testing.T) {
	e := newUnitEnv(t)
	if err := os.WriteFile(e.log, []byte("a previous run's log\nline two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, _ := e.start(t)
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	recs := unitRecords(t, e.log) // fails if the old lines are still there
	if len(recs) != 2 {
		t.Errorf("got %q, want a fresh log", unitTexts(recs))
	}
}

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.log")
	tests := []struct {
		name      string
		log, lock string
		opts      []pigging.Option
		wantPath  string // a *PathError names it; "" for an option error
		wantInErr string
	}{
		{"empty log", "", filepath.Join(dir, "a.lock"), nil, "", "log path"},
		{"empty lock", log, "", nil, "", "lock path"},
		{"same path", log, log, nil, log, "same file"},
		{"same path relative", "a.log", "./a.log", nil, "./a.log", "same file"},
		{"same path dotdot", log, filepath.Join(dir, "sub", "..", "a.log"), nil, filepath.Join(dir, "sub", "..", "a.log"), "same file"},
		{"same path relative and absolute", "a.log", unitAbs(t, "a.log"), nil, unitAbs(t, "a.log"), "same file"},
		{"empty name", log, log + ".lock", []pigging.Option{pigging.WithName("")}, "", "WithName"},
		{"blank name", log, log + ".lock", []pigging.Option{pigging.WithName("  ")}, "", "WithName"},
		{"negative budget", log, log + ".lock", []pigging.Option{pigging.WithEventBudget(-1)}, "", "WithEventBudget"},
		{"unknown policy", log, log + ".lock", []pigging.Option{pigging.WithStaleLock(pigging.StalePolicy(7))}, "", "WithStaleLock"},
		{"file mode not a permission", log, log + ".lock", []pigging.Option{pigging.WithFileMode(fs.ModeDir | 0o644)}, "", "WithFileMode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := pigging.New(tt.log, tt.lock, tt.opts...)
			if err == nil {
				t.Fatalf("New(%q, %q) = %v, nil; want an error", tt.log, tt.lock, tr)
			}
			if tr != nil {
				t.Errorf("New returned a Tracker with its error")
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q does not say %q", err, tt.wantInErr)
			}
			var pe *pigging.PathError
			if tt.wantPath != "" || strings.HasPrefix(tt.name, "empty l") {
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is not a *PathError", err)
				}
				if pe.Path != tt.wantPath {
					t.Errorf("PathError.Path = %q, want %q", pe.Path, tt.wantPath)
				}
				if tt.wantPath != "" && !strings.Contains(err.Error(), tt.wantPath) {
					t.Errorf("error %q does not name the path %q", err, tt.wantPath)
				}
			}
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		_, err := pigging.New("", "", pigging.WithName(""), pigging.WithEventBudget(-3))
		for _, want := range []string{"log path", "lock path", "WithName", "WithEventBudget"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v does not say %q", err, want)
			}
		}
	})
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("New touched the file system: %v", entries)
	}
}

func unitAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNewTouchesNoFile(t *testing.T) {
	dir := t.TempDir()
	// Even a missing directory is Start's business, not New's.
	missing := filepath.Join(dir, "missing")
	for _, p := range [][2]string{
		{filepath.Join(dir, "a.log"), filepath.Join(dir, "a.lock")},
		{filepath.Join(missing, "a.log"), filepath.Join(missing, "a.lock")},
	} {
		tr, err := pigging.New(p[0], p[1])
		if err != nil {
			t.Fatalf("New(%q, %q): %v", p[0], p[1], err)
		}
		if tr.LogPath() != p[0] || tr.LockPath() != p[1] {
			t.Errorf("paths = %q, %q; want %q, %q", tr.LogPath(), tr.LockPath(), p[0], p[1])
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("New touched the file system: %v", entries)
	}
}

// pathCase sets up a bad path for Start and says which path is to blame.
type pathCase struct {
	name  string
	setup func(t *testing.T, e *unitEnv) (log, lock, blame string)
}

func TestStartRejectsBadPaths(t *testing.T) {
	const precious = "a file the job must never touch\n"
	const oldLog = "2026-01-01 00:00:00.000 | INFO: the previous run's log\n"
	file := func(t *testing.T, path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(t *testing.T, path string) {
		t.Helper()
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(t *testing.T, target, link string) {
		t.Helper()
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	cases := []pathCase{
		{"log in missing directory", func(t *testing.T, e *unitEnv) (string, string, string) {
			l := filepath.Join(e.dir, "missing", "a.log")
			return l, e.lock, l
		}},
		{"lock in missing directory", func(t *testing.T, e *unitEnv) (string, string, string) {
			l := filepath.Join(e.dir, "missing", "a.lock")
			return e.log, l, l
		}},
		{"log is a directory", func(t *testing.T, e *unitEnv) (string, string, string) {
			mkdir(t, e.log)
			return e.log, e.lock, e.log
		}},
		{"lock is a directory", func(t *testing.T, e *unitEnv) (string, string, string) {
			mkdir(t, e.lock)
			return e.log, e.lock, e.lock
		}},
		{"log is a symlink", func(t *testing.T, e *unitEnv) (string, string, string) {
			target := filepath.Join(e.dir, "precious")
			file(t, target, precious)
			symlink(t, target, e.log)
			return e.log, e.lock, e.log
		}},
		{"lock is a symlink", func(t *testing.T, e *unitEnv) (string, string, string) {
			target := filepath.Join(e.dir, "precious")
			file(t, target, precious)
			symlink(t, target, e.lock)
			return e.log, e.lock, e.lock
		}},
		{"log is a dangling symlink", func(t *testing.T, e *unitEnv) (string, string, string) {
			symlink(t, filepath.Join(e.dir, "nowhere"), e.log)
			return e.log, e.lock, e.log
		}},
		{"lock is a dangling symlink", func(t *testing.T, e *unitEnv) (string, string, string) {
			symlink(t, filepath.Join(e.dir, "nowhere"), e.lock)
			return e.log, e.lock, e.lock
		}},
		{"log under a regular file", func(t *testing.T, e *unitEnv) (string, string, string) {
			f := filepath.Join(e.dir, "plain")
			file(t, f, precious)
			l := filepath.Join(f, "a.log")
			return l, e.lock, l
		}},
		{"lock under a regular file", func(t *testing.T, e *unitEnv) (string, string, string) {
			f := filepath.Join(e.dir, "plain")
			file(t, f, precious)
			l := filepath.Join(f, "a.lock")
			return e.log, l, l
		}},
		{"log in a read-only directory", func(t *testing.T, e *unitEnv) (string, string, string) {
			ro := filepath.Join(e.dir, "ro")
			mkdir(t, ro)
			if os.Geteuid() == 0 {
				// Permissions do not stop root: a path under a regular
				// file is one that even root cannot create.
				f := filepath.Join(ro, "plain")
				file(t, f, precious)
				l := filepath.Join(f, "a.log")
				return l, e.lock, l
			}
			l := filepath.Join(ro, "a.log")
			if err := os.Chmod(ro, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(ro, 0o755) })
			return l, e.lock, l
		}},
		{"lock in a read-only directory", func(t *testing.T, e *unitEnv) (string, string, string) {
			ro := filepath.Join(e.dir, "ro")
			mkdir(t, ro)
			if os.Geteuid() == 0 {
				f := filepath.Join(ro, "plain")
				file(t, f, precious)
				l := filepath.Join(f, "a.lock")
				return e.log, l, l
			}
			l := filepath.Join(ro, "a.lock")
			if err := os.Chmod(ro, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(ro, 0o755) })
			return e.log, l, l
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newUnitEnv(t)
			log, lock, blame := tc.setup(t, e)
			// A log that is a regular file belongs to a previous run: it
			// must not be truncated.
			if log == e.log {
				if _, err := os.Lstat(e.log); errors.Is(err, fs.ErrNotExist) {
					file(t, e.log, oldLog)
				}
			}
			before := unitSnapshot(t, e.dir)

			tr, err := pigging.New(log, lock, e.opts()...)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			ctx, err := tr.Start(context.Background())
			if err == nil {
				_ = tr.Stop()
				t.Fatalf("Start(%q, %q) succeeded, want an error naming %q", log, lock, blame)
			}
			if ctx == nil || pigging.FromContext(ctx) != nil {
				t.Errorf("a failed Start returned a ctx carrying the Tracker")
			}
			var pe *pigging.PathError
			if !errors.As(err, &pe) {
				t.Fatalf("Start error %v (%T) is not a *PathError", err, err)
			}
			if pe.Path != blame {
				t.Errorf("PathError.Path = %q, want %q", pe.Path, blame)
			}
			wantOp := "log"
			if blame == lock {
				wantOp = "lock"
			}
			if pe.Op != wantOp {
				t.Errorf("PathError.Op = %q, want %q", pe.Op, wantOp)
			}
			if !strings.Contains(err.Error(), blame) {
				t.Errorf("error %q does not name %q", err, blame)
			}
			if errors.Is(err, pigging.ErrLocked) {
				t.Errorf("a path problem reads as a lock problem: %v", err)
			}
			if after := unitSnapshot(t, e.dir); after != before {
				t.Errorf("Start changed the directory:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if err := tr.Log(slog.LevelInfo, "x"); !errors.Is(err, pigging.ErrNotStarted) {
				t.Errorf("after a failed Start, Log = %v, want ErrNotStarted", err)
			}
		})
	}
}

// unitSnapshot describes every entry under dir: path, type, and a regular
// file's content or a symlink's target.
func unitSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			b.WriteString(" -> " + target)
		case d.IsDir():
			b.WriteString("/")
		default:
			content, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.WriteString(" = " + string(content))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func unitNoFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists (%v), want none", filepath.Base(path), err)
	}
}

func TestStartRejectsLogAndLockOnOneFile(t *testing.T) {
	// New cannot see that two spellings name one file when a directory is
	// a symlink; Start must, before it truncates the lock it holds.
	e := newUnitEnv(t)
	real := filepath.Join(e.dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	alias := filepath.Join(e.dir, "alias")
	if err := os.Symlink(real, alias); err != nil {
		t.Fatal(err)
	}
	log, lock := filepath.Join(real, "job"), filepath.Join(alias, "job")
	for _, withFile := range []bool{false, true} {
		if withFile {
			if err := os.WriteFile(log, []byte("2026-01-01 00:00:00.000 | INFO: old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		before := unitSnapshot(t, e.dir)
		tr, err := pigging.New(log, lock, e.opts()...)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		_, err = tr.Start(context.Background())
		if err == nil {
			_ = tr.Stop()
			t.Fatalf("Start with the log and the lock on one file succeeded (file there before: %v)", withFile)
		}
		var pe *pigging.PathError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "same file") {
			t.Errorf("Start = %v, want a *PathError saying it is the same file", err)
		}
		if after := unitSnapshot(t, e.dir); after != before {
			t.Errorf("Start changed the directory:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	}

	// A hard link is one file under two names.
	link := filepath.Join(e.dir, "hard.lock")
	if err := os.Link(log, link); err != nil {
		t.Fatal(err)
	}
	before := unitSnapshot(t, e.dir)
	tr, err := pigging.New(log, link, e.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(context.Background()); err == nil {
		_ = tr.Stop()
		t.Fatal("Start with the lock a hard link of the log succeeded")
	}
	if after := unitSnapshot(t, e.dir); after != before {
		t.Errorf("Start changed the directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// unitCaptureStderr runs f with os.Stderr sent to a file and returns what
// was written there.
func unitCaptureStderr(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	saved := os.Stderr
	os.Stderr = tmp
	defer func() { os.Stderr = saved }()
	f()
	os.Stderr = saved
	return unitReadFile(t, tmp.Name())
}

func TestRecordsOutsideARunGoToStderr(t *testing.T) {
	e := newUnitEnv(t)
	tr := e.tracker(t)
	got := unitCaptureStderr(t, func() {
		tr.Info("early info", "k", "v")
		_ = tr.Log(slog.LevelWarn, "early warn")
		tr.Logger().Error("early logger")
		_ = tr.LogException(errors.New("early exception"))
		if _, err := tr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := tr.Stop(); err != nil {
			t.Fatal(err)
		}
		tr.Error("late error")
	})
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	wants := []string{"INFO: early info k=v", "WARN: early warn", "ERROR: early logger", "ERROR: early exception", "ERROR: late error"}
	if len(lines) != len(wants) || !strings.HasSuffix(got, "\n") {
		t.Fatalf("stderr has %d lines, want one per record:\n%s", len(lines), got)
	}
	for i, want := range wants {
		reason := pigging.ErrNotStarted.Error()
		if i == len(wants)-1 {
			reason = pigging.ErrStopped.Error()
		}
		if !strings.HasPrefix(lines[i], "pigging: not written to "+e.log+" ("+reason+"): ") || !strings.HasSuffix(lines[i], " | "+want) {
			t.Errorf("stderr line %d = %q, want the record %q and why", i+1, lines[i], want)
		}
	}
	if recs := unitBetween(t, unitRecords(t, e.log)); len(recs) != 0 {
		t.Errorf("records outside the run reached the log: %q", recs)
	}
}
