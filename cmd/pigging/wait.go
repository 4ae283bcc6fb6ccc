package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/pigging-go/pigging/pigging"
)

// Polling the lock while --wait waits starts at waitFirst and doubles up
// to waitMax: a holder that ends soon is followed quickly, one that runs
// for an hour is not read ten times a second.
const (
	waitFirst = 50 * time.Millisecond
	waitMax   = 2 * time.Second
)

// errWaitStopped is the cause of a wait for the lock that a signal ended.
type errWaitStopped struct{ sig os.Signal }

func (e *errWaitStopped) Error() string {
	return "stopped waiting for the lock: received " + signalName(e.sig)
}

// code is pigging's exit status after the signal: 128+N, as a shell
// reports a command killed by signal N.
func (e *errWaitStopped) code() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitLocked
}

// liveHolder reports whether the lock is held by a live run, as "pigging
// status" sees it; a lock that cannot be read counts as not held, and
// Start then says why.
func liveHolder(ctx context.Context, l pigging.Locker) bool {
	st, err := l.Inspect(ctx)
	return err == nil && st.State == pigging.LockRunning
}

// start takes the lock and starts the run. With --wait it waits up to
// o.wait for a live holder to finish, reading the lock (which records
// nothing) rather than trying to take it (which appends a refusal to the
// holder's log), with a backoff; a lock a failed run left is refused at
// once, as without --wait. It returns how long it waited. A signal in sigs
// ends the wait with *errWaitStopped.
func (c *cli) start(ctx context.Context, t *pigging.Tracker, locker pigging.Locker, o runOptions, sigs <-chan os.Signal) (context.Context, time.Duration, error) {
	if o.wait <= 0 {
		spanCtx, err := t.Start(ctx)
		return spanCtx, 0, err
	}
	begin := time.Now()
	deadline := begin.Add(o.wait)
	pause := waitFirst
	for {
		if !liveHolder(ctx, locker) || !time.Now().Before(deadline) {
			spanCtx, err := t.Start(ctx)
			// A run that took the lock between the read and the try is live
			// too: wait on for it.
			if err == nil || !errors.Is(err, pigging.ErrLocked) || errors.Is(err, pigging.ErrStaleLock) || !time.Now().Before(deadline) {
				return spanCtx, time.Since(begin), err
			}
		}
		tm := time.NewTimer(min(pause, time.Until(deadline)))
		select {
		case <-tm.C:
		case sig := <-sigs:
			tm.Stop()
			return ctx, time.Since(begin), &errWaitStopped{sig}
		}
		pause = min(2*pause, waitMax)
	}
}

// waitedText says how long a refused run waited, for the refusal.
func waitedText(waited, limit time.Duration) string {
	return fmt.Sprintf("waited %s (--wait %s) for the run holding the lock to finish", waited.Round(time.Millisecond), limit)
}
