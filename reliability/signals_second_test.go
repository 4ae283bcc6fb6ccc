//go:build unix

package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

func init() {
	childScenarios["stubborn-run"] = childStubbornRun
}

// childStubbornRun runs a job whose function ignores its ctx: only a second
// signal ends it.
func childStubbornRun() int {
	err := pigging.Run(context.Background(), os.Getenv("LOG"), os.Getenv("LOCK"), func(ctx context.Context, t *pigging.Tracker) error {
		t.Info("ignoring the context")
		fmt.Println("ready")
		time.Sleep(time.Minute)
		return nil
	}, pigging.WithName("stubborn"), pigging.WithOutput(io.Discard))
	fmt.Printf("run returned: %v\n", err)
	return 0
}

// A second SIGINT or SIGTERM ends the process at once, while the function
// ignores its ctx: one record, the lock settled as cancelled, exit status
// 128 plus the signal.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
			c := proctest.StartLines(t, "stubborn-run", "LOG="+logPath, "LOCK="+lockPath)
			c.WaitLine(t, 30*time.Second, func(l string) bool { return l == "ready" })
			if err := c.Signal(sig); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // the first signal only cancels
			if err := c.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := c.Wait(t, 10*time.Second); code != 128+int(sig) {
				t.Fatalf("exit %d, want %d; stdout %q", code, 128+int(sig), c.Output())
			}
			texts := proctest.RecordTexts(t, logPath)
			joined := strings.Join(texts, "\n")
			if !strings.Contains(joined, "again while the run was stopping: exiting now") || !strings.HasPrefix(texts[len(texts)-1], "INFO: TOTAL SCRIPT TIME") {
				t.Errorf("log:\n%s", joined)
			}
			info := readLock(t, lockPath)
			if info.Status != pigging.StateCancellation || !strings.Contains(info.Error, "signal received") {
				t.Errorf("lock = %+v, want cancelled by the signal", info)
			}
		})
	}
}

// The error Run returns for a cancelled run has one documented shape.
func TestCancelledRunErrorShape(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("orchestrator asked to stop")
	err := pigging.Run(ctx, filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock"), func(ctx context.Context, t *pigging.Tracker) error {
		cancel(cause)
		<-ctx.Done()
		return ctx.Err()
	}, pigging.WithOutput(io.Discard))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) || !strings.HasPrefix(err.Error(), "pigging: run cancelled: orchestrator asked to stop") {
		t.Fatalf("Run = %v, want errors.Is context.Canceled and the cause", err)
	}
}

// readLock reads the lock file at path as LockInfo.
func readLock(t *testing.T, path string) pigging.LockInfo {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	var info pigging.LockInfo
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatalf("lock %q: %v", data, err)
	}
	return info
}
