//go:build unix

package reliability_test

// Bad input to the middleware wrappers inside a run (design §6): a nil
// function gives an error naming the stage at each call, never a panic,
// and the run, its log and its lock carry on as for any stage error.

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/middleware"
	"github.com/pigging-go/pigging/pigging"
)

func TestMiddlewareNilFunc(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job.log")
	lockPath := filepath.Join(dir, "job.lock")
	var errs []error
	err := pigging.Run(context.Background(), logPath, lockPath, func(ctx context.Context, tr *pigging.Tracker) error {
		_, err := middleware.Extract[[]int]("orders", nil)(ctx)
		errs = append(errs, err)
		_, err = middleware.Transform[[]int, []int]("clean", nil)(ctx, []int{1})
		errs = append(errs, err)
		errs = append(errs, middleware.Load[[]int]("warehouse", nil)(ctx, []int{1}))
		errs = append(errs, middleware.Stage("vacuum", nil)(ctx))
		tr.Info("still running")
		return nil // stage errors that never reach LogException do not fail the run
	}, pigging.WithName("nilfn"), pigging.WithOutput(io.Discard))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i, name := range []string{"extract orders", "transform clean", "load warehouse", "stage vacuum"} {
		if !errors.Is(errs[i], middleware.ErrNilFunc) || !strings.Contains(errs[i].Error(), name) {
			t.Errorf("%s with a nil fn: %v, want ErrNilFunc naming the stage", name, errs[i])
		}
	}
	lines := proctest.ReadLogLines(t, logPath, false)
	if !strings.HasSuffix(lines[len(lines)-2], "| INFO: still running") {
		t.Errorf("log:\n%s", strings.Join(lines, "\n"))
	}
	if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock left after the run: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 || ents[0].Name() != filepath.Base(pigging.HistoryPath(lockPath)) || ents[1].Name() != filepath.Base(logPath) {
		t.Errorf("files left: %v, want only the log and the run history", ents)
	}
}
