package pigging_test

import (
	"context"
	"errors"
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
		if n := len(unitSpansNamed(e.rec, runSpanName(unitJob))); n != 1 {
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
