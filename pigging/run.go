package pigging

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Run is the easy correct way to run a job: it makes a Tracker with opts,
// Starts it, calls fn with a ctx that is cancelled on SIGINT or SIGTERM,
// and Stops it.
//
// A panic in fn is recovered, logged with its full stack and returned as a
// *PanicError. An error from fn is logged with LogException, so the run
// fails and keeps its lock. When the signal ctx is done and fn returned nil
// or the ctx's error, the run ends as cancelled and Run returns an error that
// wraps context.Canceled. The first error wins: fn's (or the cancellation),
// then Stop's. A Start that is refused returns its *LockError and never
// calls fn. A nil fn is an error.
func Run(ctx context.Context, logPath, lockPath string, fn func(ctx context.Context, t *Tracker) error, opts ...Option) error {
	if fn == nil {
		return errors.New("pigging: Run: fn is nil")
	}
	t, err := New(logPath, lockPath, opts...)
	if err != nil {
		return err
	}
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	runCtx, err := t.Start(sigCtx)
	if err != nil {
		return err
	}
	fnErr := call(runCtx, t, fn)
	cancelled := sigCtx.Err() != nil && (fnErr == nil || errors.Is(fnErr, sigCtx.Err()))
	if fnErr != nil && !cancelled {
		t.LogException(fnErr)
	}
	stopErr := t.Stop()
	if cancelled {
		if fnErr == nil {
			fnErr = fmt.Errorf("pigging: run cancelled: %w", context.Cause(sigCtx))
			if !errors.Is(fnErr, context.Canceled) && !errors.Is(fnErr, context.DeadlineExceeded) {
				fnErr = fmt.Errorf("%w (%w)", fnErr, sigCtx.Err())
			}
		}
	}
	if fnErr != nil {
		return fnErr
	}
	return stopErr
}

// call runs fn, turning a panic into a *PanicError.
func call(ctx context.Context, t *Tracker, fn func(context.Context, *Tracker) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = NewPanicError(v)
		}
	}()
	return fn(ctx, t)
}
