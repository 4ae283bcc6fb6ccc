package pigging_test

// Inspecting a lock never looks like holding it: inspections, Unlock and
// Start at the same instant each see the lock for what it is.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/pigging"
)

// staleLock leaves a stale lock at lockPath: a real run that failed.
func staleLock(t *testing.T, logPath, lockPath string) {
	t.Helper()
	tr, err := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.LogException(errors.New("warehouse unreachable"))
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
}

// Many inspections of a stale lock at once: none reports it running, all
// see it stale with the failed run's details.
func TestInspectionsRaceOnStaleLock(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	staleLock(t, logPath, lockPath)

	const workers, each = 8, 200
	var running, other atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for range workers {
		wg.Go(func() {
			<-gate
			for range each {
				st, err := pigging.ReadLock(lockPath)
				switch {
				case err != nil:
					other.Add(1)
					first.CompareAndSwap(nil, err.Error())
				case st.State == pigging.LockRunning:
					running.Add(1)
					first.CompareAndSwap(nil, "running: "+st.Detail)
				case st.State != pigging.LockStale || st.Holder == nil || st.Holder.Status != pigging.StateFailure:
					other.Add(1)
					first.CompareAndSwap(nil, st.State.String()+": "+st.Detail)
				}
			}
		})
	}
	close(gate)
	wg.Wait()
	if running.Load() > 0 || other.Load() > 0 {
		t.Fatalf("%d of %d inspections said running, %d said something else than stale; first: %v",
			running.Load(), workers*each, other.Load(), first.Load())
	}
	t.Logf("%d inspections of a stale lock at once: 0 said running", workers*each)
}

// Unlock racing inspections clears the lock every time; inspections and
// a Start racing them never report it held by a running job.
func TestUnlockAndStartRaceInspections(t *testing.T) {
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	const rounds, readers, each = 40, 4, 100
	var running atomic.Int64
	for round := range rounds {
		staleLock(t, logPath, lockPath)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for range readers {
			wg.Go(func() {
				<-gate
				for range each {
					st, err := pigging.ReadLock(lockPath)
					if err == nil && st.State == pigging.LockRunning {
						running.Add(1)
					}
				}
			})
		}
		close(gate)
		// A Start refused by the stale lock, then Unlock, while others
		// inspect it.
		tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
		_, serr := tr.Start(context.Background())
		st, uerr := pigging.Unlock(lockPath)
		wg.Wait()
		if !errors.Is(serr, pigging.ErrStaleLock) {
			t.Fatalf("round %d: Start racing inspections = %v, want ErrStaleLock", round, serr)
		}
		if uerr != nil || st.State != pigging.LockStale {
			t.Fatalf("round %d: Unlock racing inspections = %+v, %v; want the stale lock cleared", round, st, uerr)
		}
		if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("round %d: lock file still there after Unlock: %v", round, err)
		}
	}
	if running.Load() > 0 {
		t.Fatalf("%d of %d inspections racing Start and Unlock said running", running.Load(), rounds*readers*each)
	}
	t.Logf("%d rounds of Start and Unlock racing %d inspections each: 0 said running, every Unlock cleared", rounds, readers*each)
}
