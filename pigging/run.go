package pigging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
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
// canceled)"). A second signal, while fn still runs, ends the process at
// once, as most command-line tools do: one WARN record, the lock settled as
// cancelled, the span ended, then exit status 128 plus the signal number.
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
	signalled := false
wait:
	for {
		select {
		case fnErr = <-done:
			break wait
		case sig := <-sigs:
			if !signalled {
				signalled = true
				cancel(fmt.Errorf("%v signal received", sig))
				continue
			}
			t.exitNow(sig)
		}
	}

	cancelled := sigCtx.Err() != nil && (fnErr == nil || errors.Is(fnErr, sigCtx.Err()) || isErr(fnErr, context.Cause(sigCtx)))
	if fnErr != nil && !cancelled {
		t.LogException(fnErr)
	}
	stopErr := t.stop(true)
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

// exitNow ends the process on a second signal: one record, the lock
// settled as cancelled, the span ended, then exit.
func (t *Tracker) exitNow(sig os.Signal) {
	t.emit(&record{time: time.Now(), level: slog.LevelWarn, own: true,
		msg: fmt.Sprintf("Received %v again while the run was stopping: exiting now; the run is cancelled", sig)}, fields{})
	_ = t.stop(false)
	code := 1
	if s, ok := sig.(syscall.Signal); ok {
		code = 128 + int(s)
	}
	os.Exit(code)
}
