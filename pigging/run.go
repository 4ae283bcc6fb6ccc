package pigging

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// errGoexit is the failure of a Run whose function ended its goroutine
// without returning: runtime.Goexit, or a testing.T's FailNow.
var errGoexit = errors.New("pigging: the run's function exited without returning (runtime.Goexit was called)")

// Run is the easy correct way to run a job: it makes a Tracker with opts,
// Starts it, calls fn with a ctx that is cancelled on SIGINT or SIGTERM,
// and Stops it.
//
// A panic in fn is recovered, logged with its full stack and returned as a
// *PanicError. An error from fn is logged with LogException, so the run
// fails and keeps its lock. fn runs on a goroutine of its own, so a fn
// that calls runtime.Goexit fails the run instead of hanging it.
//
// Cancellation: the first SIGINT or SIGTERM cancels fn's ctx, with a cause
// that names the signal. When fn then returns nil or the ctx's error, the
// run ends as cancelled and Run returns an error for which
// errors.Is(err, context.Canceled) holds and that wraps context.Cause of
// the ctx ("pigging: run cancelled: interrupt signal received (context
// canceled)"). The first signal also writes into the lock at once that the
// run was cancelled (StateCancellation), then gives both signals back their
// default disposition, as signal.NotifyContext's stop does: a second
// signal, while fn still runs, ends the process the default way, and the
// next run finds the lock saying the run was cancelled. Run never calls
// os.Exit.
//
// Inside fn, t.Stop does nothing and returns an error: Run stops the run
// when fn returns. Run returns fn's error (or the cancellation) joined with
// Stop's (lost records, a lock file removed under the run). A Start that is
// refused returns its *LockError and never calls fn. A nil fn is an error.
func Run(ctx context.Context, logPath, lockPath string, fn func(ctx context.Context, t *Tracker) error, opts ...Option) error {
	if fn == nil {
		return errors.New("pigging: Run: fn is nil")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	t, err := New(logPath, lockPath, opts...)
	if err != nil {
		return err
	}
	t.managed = true
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	sigCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runCtx, err := t.Start(sigCtx)
	if err != nil {
		return err
	}

	done := make(chan error, 1)
	go call(runCtx, t, fn, done)
	var fnErr error
	select {
	case fnErr = <-done:
	case sig := <-sigs:
		cancel(fmt.Errorf("%v signal received", sig))
		t.currentRun().markCancelled(context.Cause(sigCtx))
		restoreSignals(sigs)
		fnErr = <-done
	}

	cancelled := sigCtx.Err() != nil && (fnErr == nil || errors.Is(fnErr, sigCtx.Err()) || isErr(fnErr, context.Cause(sigCtx)))
	if fnErr != nil && !cancelled {
		t.LogException(fnErr)
	}
	stopErr := t.stop()
	if cancelled {
		fnErr = cancelError(sigCtx)
	}
	switch {
	case stopErr == nil:
		return fnErr // unchanged, as fn returned it
	case fnErr == nil:
		return stopErr
	}
	return errors.Join(fnErr, stopErr)
}

// cancelError is the error of a cancelled run: it wraps the ctx's cause and
// its error.
func cancelError(ctx context.Context) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, ctx.Err()) {
		return fmt.Errorf("pigging: run cancelled: %w", cause)
	}
	return fmt.Errorf("pigging: run cancelled: %w (%w)", cause, ctx.Err())
}

// call runs fn and sends what it returned to done: its error, a
// *PanicError for a panic, or errGoexit when fn ended the goroutine.
func call(ctx context.Context, t *Tracker, fn func(context.Context, *Tracker) error, done chan<- error) {
	var err error
	returned := false
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		} else if !returned {
			err = errGoexit
		}
		done <- err
	}()
	err = fn(ctx, t)
	returned = true
}

// restoreSignals gives SIGINT and SIGTERM back their default disposition,
// as signal.NotifyContext's stop does, so that a second one ends the
// process the default way. A second signal that came while the lock was
// being written is raised again, now that it is no longer caught.
func restoreSignals(sigs chan os.Signal) {
	signal.Stop(sigs)
	select {
	case sig := <-sigs:
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Signal(sig)
		}
	default:
	}
}
