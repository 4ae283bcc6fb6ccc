package middleware

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A wrapper called with a ctx that is done already does not call its
// function, retries nothing, makes no span, and returns an error that
// wraps ctx.Err() and its cause; a Tracker in ctx gets one WARN record
// per call.
func TestDoneContext(t *testing.T) {
	h := startRun(t)
	cause := errors.New("operator pressed ^C")
	ctx, cancel := context.WithCancelCause(h.ctx)
	cancel(cause)
	called := 0
	ex := Extract("orders", func(ctx context.Context) ([]int, error) { called++; return nil, nil })
	tr := Transform("clean", func(ctx context.Context, in []int) ([]int, error) { called++; return in, nil })
	ld := Load("warehouse", func(ctx context.Context, in []int) error { called++; return nil }, WithRetry(3, time.Hour))
	st := Stage("vacuum", func(ctx context.Context) error { called++; return nil })
	var errs []error
	_, err := ex(ctx)
	errs = append(errs, err)
	_, err = tr(ctx, []int{1})
	errs = append(errs, err)
	errs = append(errs, ld(ctx, []int{1}), st(ctx))
	for i, err := range errs {
		if !errors.Is(err, ctx.Err()) || !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
			t.Errorf("call %d: err %v does not wrap ctx.Err() and its cause", i, err)
		}
	}
	if called != 0 {
		t.Errorf("functions called %d times with a done ctx", called)
	}
	log := h.stop()
	checkLog(t, log[1:5], []string{
		"WARN: extract orders not called: context canceled (cause: operator pressed ^C) stage=orders",
		"WARN: transform clean not called: context canceled (cause: operator pressed ^C) stage=clean",
		"WARN: load warehouse not called: context canceled (cause: operator pressed ^C) stage=warehouse",
		"WARN: stage vacuum not called: context canceled (cause: operator pressed ^C) stage=vacuum",
	})
	if len(log) != 6 {
		t.Errorf("%d records, want 6", len(log))
	}
	if spans := h.rec.Ended(); len(spans) != 1 {
		t.Errorf("spans %v, want the run span only", spanNames(spans))
	}
	// The records are log events of the span in ctx: the run span.
	if n := len(eventsNamed(h.runSpan(), "log")); n != 4 {
		t.Errorf("%d log events on the run span, want 4", n)
	}
}

// Without a Tracker, a done ctx gives the error and nothing else; a
// deadline that passed is reported as such.
func TestDoneContextNoTracker(t *testing.T) {
	tp, rec := newProvider(t)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	called := false
	st := Stage("s", func(ctx context.Context) error { called = true; return nil }, WithTracerProvider(tp))
	err := st(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || called {
		t.Errorf("err %v, called %v", err, called)
	}
	if err.Error() != "stage s not called: context deadline exceeded" {
		t.Errorf("err %q", err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans, want none", n)
	}
}
