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

// A second SIGINT or SIGTERM, while the function ignores its ctx, ends the
// process the default way (pigging never calls os.Exit): the first one
// cancelled the run and wrote that into the lock, so the next run finds
// the lock saying the run was cancelled by the signal.
func TestSecondSignalEndsTheProcessTheDefaultWay(t *testing.T) {
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
			// The first signal only cancels, and marks the lock.
			waitFor(t, 10*time.Second, func() bool { return readLock(t, lockPath).Status == pigging.StateCancellation })
			if err := c.Signal(sig); err != nil {
				t.Fatal(err)
			}
			c.Wait(t, 10*time.Second)
			if got, ok := c.Signaled(); !ok || got != sig {
				t.Fatalf("child ended by signal %v (%v), want %v; stdout %q", got, ok, sig, c.Output())
			}
			if strings.Contains(c.Output(), "run returned") {
				t.Errorf("Run returned after the second signal: %q", c.Output())
			}
			texts := proctest.RecordTexts(t, logPath)
			if len(texts) == 0 || texts[len(texts)-1] != "INFO: ignoring the context" {
				t.Errorf("log:\n%s", strings.Join(texts, "\n"))
			}
			info := readLock(t, lockPath)
			if info.Status != pigging.StateCancellation || !strings.Contains(info.Error, "signal received") {
				t.Errorf("lock = %+v, want cancelled by the signal", info)
			}
			st, err := pigging.ReadLock(lockPath)
			if err != nil || st.State != pigging.LockStale {
				t.Errorf("ReadLock = %+v, %v, want a stale lock", st, err)
			}
		})
	}
}

// waitFor polls cond until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("not done within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
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
