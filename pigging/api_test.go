package pigging_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/middleware"
	"github.com/pigging-go/pigging/pigging"
)

// Every method of a nil *Tracker is safe: FromContext outside a run.
func TestNilTracker(t *testing.T) {
	tr := pigging.FromContext(context.Background())
	if tr != nil {
		t.Fatal("FromContext of a bare ctx is not nil")
	}
	tr.Logger().Info("inside a stage called directly", "rows", 3)
	tr.Logger().InfoContext(context.Background(), "with a ctx")
	tr.Info("info")
	tr.Debug("debug")
	if err := tr.Log(slog.LevelWarn, "warn"); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Log on nil = %v, want ErrNotStarted", err)
	}
	boom := errors.New("boom")
	if err := tr.LogException(boom); !errors.Is(err, boom) || !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("LogException on nil = %v, want boom and ErrNotStarted", err)
	}
	if _, err := tr.Start(context.Background()); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Start on nil = %v", err)
	}
	if err := tr.Stop(); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Stop on nil = %v", err)
	}
	if tr.Job() != "" || tr.LogPath() != "" || tr.LockPath() != "" || tr.String() != "pigging.Tracker(nil)" {
		t.Errorf("accessors on nil: %q %q %q %q", tr.Job(), tr.LogPath(), tr.LockPath(), tr.String())
	}
}

// The API gaps a new user met: Debug, Log taking a slog.Leveler, the
// lifecycle error whatever the level, Stop inside Run.
func TestFirstHourAPI(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	tr, err := pigging.New(logPath, lockPath, append(pigtest.QuietOpts(), pigging.WithMinLevel(slog.LevelDebug))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Log(slog.LevelDebug, "too early"); !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Log(Debug) before Start = %v, want ErrNotStarted like every level", err)
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.Debug("a debug record", "k", 1)
	var lv slog.LevelVar
	lv.Set(slog.LevelWarn)
	if err := tr.Log(&lv, "through a Leveler"); err != nil {
		t.Errorf("Log with a *slog.LevelVar: %v", err)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(proctest.RecordTexts(t, logPath), "\n")
	if !strings.Contains(got, "DEBUG: a debug record k=1") || !strings.Contains(got, "WARN: through a Leveler") {
		t.Errorf("log:\n%s", got)
	}

	// Stop inside Run's function is a clear error, and the run still ends
	// as Run ends it.
	var stopErr error
	err = pigging.Run(context.Background(), logPath, lockPath, func(ctx context.Context, tr *pigging.Tracker) error {
		stopErr = tr.Stop()
		tr.Info("still logging after the Stop that did nothing")
		return nil
	}, pigtest.QuietOpts()...)
	if err != nil {
		t.Errorf("Run = %v, want nil: the inner Stop did nothing", err)
	}
	if stopErr == nil || !strings.Contains(stopErr.Error(), "Run stops the run") {
		t.Errorf("Stop inside Run = %v, want an error saying Run stops the run", stopErr)
	}
	if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock left after a successful Run: %v", err)
	}
}

// An error is written in full once: a stage's error is not repeated by the
// run's closing line, and the same error given to LogException twice (as
// "return t.LogException(err)" inside Run does) is written once.
func TestErrorWrittenOnce(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	err := pigging.Run(context.Background(), logPath, lockPath, func(ctx context.Context, tr *pigging.Tracker) error {
		return tr.LogException(errors.New("checked by the job itself"))
	}, pigtest.QuietOpts()...)
	if err == nil {
		t.Fatal("Run = nil")
	}
	if n := strings.Count(strings.Join(proctest.RecordTexts(t, logPath), "\n"), "ERROR: checked by the job itself"); n != 1 {
		t.Errorf("the error is written %d times, want once", n)
	}

	_ = os.Remove(lockPath)
	err = pigging.Run(context.Background(), logPath, lockPath, func(ctx context.Context, tr *pigging.Tracker) error {
		_, err := middleware.Transform("aggregate", func(context.Context, []int) ([]int, error) {
			panic("boom in aggregate")
		})(ctx, []int{1})
		return err
	}, pigtest.QuietOpts()...)
	var pe *pigging.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Run = %v, want the stage's *PanicError", err)
	}
	data, _ := os.ReadFile(logPath)
	if n := strings.Count(string(data), "runtime/debug.Stack()"); n != 1 {
		t.Errorf("the panic's stack is in the log %d times, want once:\n%s", n, data)
	}
	if !strings.Contains(string(data), "ERROR: Run failed: transform aggregate failed; its error is logged above") {
		t.Errorf("the run's closing line does not point to the stage:\n%s", data)
	}
}
