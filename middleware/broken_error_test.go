package middleware

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
)

// fieldError is an error whose Error reads a field: a typed nil one
// panics when asked for its text.
type fieldError struct{ table string }

func (e *fieldError) Error() string { return "load into " + e.table + " failed" }

// panicError is an error whose Error panics.
type panicError struct{}

func (panicError) Error() string { panic("no text today") }

// A stage that returns a typed nil error or an error whose Error panics
// never crashes the job: the error is returned unchanged and recorded with
// a readable text on the spans (status, exception event), in the ERROR
// line and in the retry WARN lines.
func TestBrokenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		text string // what the log and the spans say
		typ  string
	}{
		{"typed nil", (*fieldError)(nil), "<nil *middleware.fieldError>", "*middleware.fieldError"},
		{"Error panics", panicError{}, "!PANIC in middleware.panicError.Error: no text today", "middleware.panicError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startRun(t)
			plain := Load("plain", func(ctx context.Context, in []int) error { return tc.err })
			retried := Load("retried", func(ctx context.Context, in []int) error { return tc.err },
				WithRetry(2, 0))
			if err := plain(h.ctx, []int{1}); err != tc.err {
				t.Errorf("plain returned %T, want the error unchanged", err)
			}
			if err := retried(h.ctx, []int{1}); err != tc.err {
				t.Errorf("retried returned %T, want the error unchanged", err)
			}
			log := h.stop()
			checkLog(t, log[1:4], []string{
				"ERROR: load plain failed: " + tc.text + " duration=D records_in=1 stage=plain",
				"WARN: load retried attempt 1 of 2 failed, retrying: " + tc.text + " attempt=1 stage=retried",
				"ERROR: load retried failed: " + tc.text + " duration=D records_in=1 attempts=2 stage=retried",
			})
			spans := h.rec.Ended()
			p := spanNamed(t, spans, "load plain")
			checkStage(t, p, h.runSpan(), "load", "plain", codes.Error)
			checkException(t, p, tc.typ, tc.text, false)
			if p.Status().Description != tc.text {
				t.Errorf("status %q, want %q", p.Status().Description, tc.text)
			}
			r := spanNamed(t, spans, "load retried")
			checkFailedOnly(t, r, tc.typ, tc.text)
			for _, a := range childrenOf(spans, r) {
				checkException(t, a, tc.typ, tc.text, false)
			}
		})
	}
}

// A panic whose value is an error with a broken Error method is recorded
// and returned like any other panic.
func TestPanicWithBrokenError(t *testing.T) {
	h := startRun(t)
	st := Stage("p", func(ctx context.Context) error { panic(error((*fieldError)(nil))) })
	err := st(h.ctx)
	if _, ok := err.(*PanicError); !ok {
		t.Fatalf("err %T, want *PanicError", err)
	}
	h.stop()
	raw := readRaw(t, h.logPath)
	if !strings.Contains(raw, "ERROR: stage p failed: ") {
		t.Errorf("no ERROR line:\n%s", raw)
	}
	s := spanNamed(t, h.rec.Ended(), "stage p")
	if s.Status().Code != codes.Error || len(eventsNamed(s, "exception")) != 1 {
		t.Errorf("stage p: status %v, events %v", s.Status(), s.Events())
	}
}

// Giving up in a wait after a try that returned a broken error makes an
// error that wraps both, and says so without a crash.
func TestBrokenErrorThenCancel(t *testing.T) {
	h := startRun(t)
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	var broken error = (*fieldError)(nil)
	ld := Load("w", func(ctx context.Context, in []int) error {
		cancel()
		return broken
	}, WithRetry(3, time.Hour))
	err := ld(ctx, []int{1})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, broken) {
		t.Fatalf("err %v does not wrap both ctx.Err() and the try's error", err)
	}
	log := h.stop()
	want := "ERROR: load w failed: load w: gave up before attempt 2 of 3: context canceled (last attempt: <nil>) duration=D records_in=1 stage=w"
	if !slices.Contains(log, want) {
		t.Errorf("log %q\nhas no %q", log, want)
	}
}
