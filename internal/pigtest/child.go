package pigtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

// Exit codes of the children that try the lock.
const (
	ExitRan     = 0 // started, ran and stopped
	ExitLocked  = 3 // refused with ErrLocked (held by a live run)
	ExitStale   = 4 // refused with ErrStaleLock
	ExitStartFn = 5 // Start failed otherwise
)

// StartExit maps Start's error to a child exit code: ExitRan for nil,
// ExitStale, ExitLocked, or ExitStartFn for any other error.
func StartExit(err error) int {
	switch {
	case err == nil:
		return ExitRan
	case errors.Is(err, pigging.ErrStaleLock):
		return ExitStale
	case errors.Is(err, pigging.ErrLocked):
		return ExitLocked
	}
	return ExitStartFn
}

// ChildTracker makes a child's Tracker for the files LOG and LOCK, named
// job, writing nothing to stdout, taking over a stale lock when
// STALE=takeover, with opts after that. It dies with proctest.ChildDie when
// New fails.
func ChildTracker(job string, opts ...pigging.Option) *pigging.Tracker {
	all := []pigging.Option{pigging.WithName(job), pigging.WithOutput(nil)}
	if os.Getenv("STALE") == "takeover" {
		all = append(all, pigging.WithStaleLock(pigging.TakeOver))
	}
	t, err := pigging.New(os.Getenv("LOG"), os.Getenv("LOCK"), append(all, opts...)...)
	if err != nil {
		proctest.ChildDie("New: %v", err)
	}
	return t
}

// ChildTry is a child scenario (register it as "try"): it tries the lock
// once and prints Start's error, exiting with StartExit's code, or runs,
// stops, prints "ran" and exits with ExitRan.
func ChildTry() int {
	t := ChildTracker("try")
	if _, err := t.Start(context.Background()); err != nil {
		fmt.Println(err)
		return StartExit(err)
	}
	t.Info("tried and ran")
	if err := t.Stop(); err != nil {
		proctest.ChildDie("Stop: %v", err)
	}
	fmt.Println("ran")
	return ExitRan
}

// ChildHoldReport is a child scenario (register it as "hold-report"): it
// takes the lock, prints "ready" and holds it until the file RELEASE exists
// (at most 60 s), then stops and prints what Stop returned ("stop: <nil>"
// or the error). It exits with 7 when Stop returned ErrLockLost, ExitRan
// otherwise, and with StartExit's code when Start failed.
func ChildHoldReport() int {
	t := ChildTracker("holder")
	if _, err := t.Start(context.Background()); err != nil {
		fmt.Println(err)
		return StartExit(err)
	}
	t.Info("holding")
	fmt.Println("ready")
	if !proctest.ChildWaitFile(os.Getenv("RELEASE"), 60*time.Second) {
		proctest.ChildDie("no release")
	}
	err := t.Stop()
	fmt.Printf("stop: %v\n", err)
	if errors.Is(err, pigging.ErrLockLost) {
		return 7
	}
	return ExitRan
}
