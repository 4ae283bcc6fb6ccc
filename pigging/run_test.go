package pigging_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"

	"github.com/pigging-go/pigging/pigging"
)

func TestRunSucceeds(t *testing.T) {
	e := newUnitEnv(t)
	var inside *pigging.Tracker
	err := pigging.Run(context.Background(), e.log, e.lock, func(ctx context.Context, tr *pigging.Tracker) error {
		inside = tr
		if pigging.FromContext(ctx) != tr {
			t.Error("fn's ctx does not carry its Tracker")
		}
		tr.Info("working", "rows", 3)
		return nil
	}, e.opts()...)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if inside == nil || inside.Job() != unitJob {
		t.Fatalf("fn got Tracker %v", inside)
	}
	unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), []string{"INFO: working rows=3"})
	unitNoFile(t, e.lock)
	if !strings.HasPrefix(e.out.String(), "TOTAL SCRIPT TIME: ") {
		t.Errorf("output = %q", e.out.String())
	}
	s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	unitWantAttr(t, "stop", unitEvents(s, "stop")[0].Attributes, "cicd.pipeline.result", "success")
}

func TestRunError(t *testing.T) {
	e := newUnitEnv(t)
	want := &unitError{"load warehouse: connection refused"}
	err := pigging.Run(context.Background(), e.log, e.lock, func(ctx context.Context, tr *pigging.Tracker) error {
		tr.Info("loading")
		return want
	}, e.opts()...)
	if err != error(want) {
		t.Fatalf("Run = %#v, want fn's error unchanged", err)
	}
	unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), []string{"INFO: loading", "ERROR: load warehouse: connection refused"})
	info := unitLockInfo(t, e.lock)
	if info.Status != pigging.StateFailure || info.Error != want.Error() {
		t.Errorf("lock = %+v, want kept as failed", info)
	}
	s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	if s.Status().Code != codes.Error || s.Status().Description != want.Error() {
		t.Errorf("status = %+v", s.Status())
	}
	if len(unitEvents(s, "exception")) != 1 {
		t.Errorf("events = %v, want one exception", unitEventNames(s))
	}

	// The next Run is refused and never calls fn.
	called := false
	err = pigging.Run(context.Background(), e.log, e.lock, func(context.Context, *pigging.Tracker) error {
		called = true
		return nil
	}, e.opts()...)
	if !errors.Is(err, pigging.ErrStaleLock) || called {
		t.Errorf("second Run = %v (fn called: %v), want ErrStaleLock without calling fn", err, called)
	}
}

func TestRunPanic(t *testing.T) {
	tests := []struct {
		name      string
		value     any
		wantMsg   string
		wantUnwrp error
	}{
		{"string", "boom", "panic: boom", nil},
		{"error", io.ErrUnexpectedEOF, "panic: unexpected EOF", io.ErrUnexpectedEOF},
		{"int", 42, "panic: 42", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newUnitEnv(t)
			err := pigging.Run(context.Background(), e.log, e.lock, func(ctx context.Context, tr *pigging.Tracker) error {
				tr.Info("before")
				unitPanicWith(tt.value)
				return nil
			}, e.opts()...)
			var pe *pigging.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("Run = %v (%T), want a *PanicError", err, err)
			}
			if pe.Value != tt.value {
				t.Errorf("Value = %#v, want %#v", pe.Value, tt.value)
			}
			if pe.Error() != tt.wantMsg {
				t.Errorf("Error() = %q, want %q", pe.Error(), tt.wantMsg)
			}
			if pe.Unwrap() != tt.wantUnwrp {
				t.Errorf("Unwrap() = %v, want %v", pe.Unwrap(), tt.wantUnwrp)
			}
			if tt.wantUnwrp != nil && !errors.Is(err, tt.wantUnwrp) {
				t.Errorf("errors.Is(err, %v) = false", tt.wantUnwrp)
			}
			if !strings.Contains(string(pe.Stack), "unitPanicWith") {
				t.Errorf("Stack does not name the function that panicked:\n%s", pe.Stack)
			}
			recs := unitRecords(t, e.log)
			got := unitBetween(t, recs)
			unitEqualLines(t, "records", got, []string{"INFO: before", "ERROR: " + tt.wantMsg})
			if stack := strings.Join(recs[2].stack, "\n"); !strings.Contains(stack, "unitPanicWith") {
				t.Errorf("the panic's record has no stack:\n%s", stack)
			}
			if info := unitLockInfo(t, e.lock); info.Status != pigging.StateFailure || info.Error != tt.wantMsg {
				t.Errorf("lock = %+v, want kept as failed", info)
			}
			s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
			exc := unitEvents(s, "exception")
			if len(exc) != 1 {
				t.Fatalf("got %d exception events, want 1", len(exc))
			}
			if st, _ := unitAttr(exc[0].Attributes, "exception.stacktrace"); !strings.Contains(st.AsString(), "unitPanicWith") {
				t.Errorf("exception.stacktrace = %q", st.AsString())
			}
		})
	}
}

func unitPanicWith(v any) { panic(v) }

func TestRunCancelled(t *testing.T) {
	for _, returnCtxErr := range []bool{false, true} {
		name := "fn returns nil"
		if returnCtxErr {
			name = "fn returns ctx.Err"
		}
		t.Run(name, func(t *testing.T) {
			e := newUnitEnv(t)
			parent, cancel := context.WithCancel(context.Background())
			defer cancel()
			err := pigging.Run(parent, e.log, e.lock, func(ctx context.Context, tr *pigging.Tracker) error {
				tr.Info("working")
				cancel()
				<-ctx.Done() // the ctx fn gets is done when the parent is
				if returnCtxErr {
					return ctx.Err()
				}
				return nil
			}, e.opts()...)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want it to wrap context.Canceled", err)
			}
			recs := unitRecords(t, e.log)
			got := unitBetween(t, recs)
			unitEqualLines(t, "records", got, []string{"INFO: working", "WARN: Run cancelled: context canceled"})
			if !strings.HasPrefix(recs[len(recs)-1].text, "TOTAL SCRIPT TIME: ") {
				t.Errorf("log does not end with TOTAL SCRIPT TIME")
			}
			info := unitLockInfo(t, e.lock)
			if info.Status != pigging.StateCancellation {
				t.Errorf("lock = %+v, want kept as cancelled", info)
			}
			s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
			unitWantAttr(t, "stop", unitEvents(s, "stop")[0].Attributes, "cicd.pipeline.result", "cancellation")
			if len(unitEvents(s, "exception")) != 0 {
				t.Errorf("a cancelled run has exception events")
			}
		})
	}
}

func TestRunCancelledButFailed(t *testing.T) {
	// An error other than the cancellation is a failure.
	e := newUnitEnv(t)
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	want := errors.New("half written")
	err := pigging.Run(parent, e.log, e.lock, func(ctx context.Context, tr *pigging.Tracker) error {
		cancel()
		return want
	}, e.opts()...)
	if err != want {
		t.Fatalf("Run = %v, want %v", err, want)
	}
	if info := unitLockInfo(t, e.lock); info.Status != pigging.StateFailure {
		t.Errorf("lock = %+v, want failed", info)
	}
}

func TestRunBadArguments(t *testing.T) {
	e := newUnitEnv(t)
	err := pigging.Run(context.Background(), e.log, e.lock, nil, e.opts()...)
	if err == nil || !strings.Contains(err.Error(), "fn") {
		t.Errorf("Run(nil fn) = %v, want an error naming fn", err)
	}
	called := false
	fn := func(context.Context, *pigging.Tracker) error { called = true; return nil }
	err = pigging.Run(context.Background(), e.log, e.log, fn, e.opts()...)
	var pe *pigging.PathError
	if !errors.As(err, &pe) || called {
		t.Errorf("Run(same paths) = %v (fn called: %v), want a *PathError", err, called)
	}
	err = pigging.Run(context.Background(), e.log, e.lock, fn, append(e.opts(), pigging.WithEventBudget(-1))...)
	if err == nil || called {
		t.Errorf("Run(bad option) = %v (fn called: %v), want an error", err, called)
	}
	unitNoFile(t, e.log)
	unitNoFile(t, e.lock)
}

func TestRunRefusedWhileHeld(t *testing.T) {
	e := newUnitEnv(t)
	holder, _ := e.start(t)
	called := false
	err := pigging.Run(context.Background(), e.log, e.lock, func(context.Context, *pigging.Tracker) error {
		called = true
		return nil
	}, e.opts()...)
	var le *pigging.LockError
	if !errors.As(err, &le) || !errors.Is(err, pigging.ErrLocked) || called {
		t.Errorf("Run while held = %v (fn called: %v), want a *LockError", err, called)
	}
	if err := holder.Stop(); err != nil {
		t.Fatal(err)
	}
	unitNoFile(t, e.lock)
}
