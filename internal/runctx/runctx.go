// Package runctx carries a pigging run and the current stage through a
// context.Context, so that the middleware package can log to the Tracker and
// use its TracerProvider without a public hook on the Tracker.
package runctx

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Run is what the middleware needs of a started Tracker.
type Run interface {
	// TracerProvider returns the provider the run's spans come from.
	TracerProvider() trace.TracerProvider
	// LogAttrs writes a record to the run's log file and adds it as a log
	// event to the span in ctx (a stage span) or to the run span. It never
	// fails: a record that cannot be written is reported on stderr.
	LogAttrs(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr)
	// StageEnded writes the whole closing record of a stage call and
	// records the stage's metrics: the stage reports its end in this one
	// call. The record is an INFO line "<e.Name> done" without e.Err, an
	// ERROR line "<e.Name> failed: <error>" with it (and the stack of a
	// panic as tab-continued lines; the run is not marked failed). Its
	// fields are the duration, from e.Start to the record's time, the
	// records counted and, past one, the attempts. It never fails, as
	// LogAttrs.
	StageEnded(ctx context.Context, e *StageEnd)
}

// StageEnd is what a stage call reports when it ends.
type StageEnd struct {
	// Stage is the stage, nil for one made without a name.
	Stage *Stage
	// Name is the stage call's span name: "<kind> <name>", or the kind
	// alone for a stage made without a name.
	Name string
	// Start is when the call began.
	Start time.Time
	// In and Out are the records counted in and out, when HasIn and HasOut.
	In, Out       int64
	HasIn, HasOut bool
	// Attempts is the number of tries made: 1 without retries, 0 when the
	// function was not called.
	Attempts int
	// Err is the call's error, nil when it succeeded.
	Err error
}

type runKey struct{}

type stageKey struct{}

// WithRun returns a copy of ctx that carries r.
func WithRun(ctx context.Context, r Run) context.Context {
	return context.WithValue(ctx, runKey{}, r)
}

// FromContext returns the Run in ctx, or nil.
func FromContext(ctx context.Context) Run {
	r, _ := ctx.Value(runKey{}).(Run)
	return r
}

// Stage names a stage call: its kind (extract, transform, load, stage) and
// its name.
type Stage struct {
	Kind string
	Name string
}

// WithStage returns a copy of ctx that says the code it reaches runs inside
// the stage s.
func WithStage(ctx context.Context, s *Stage) context.Context {
	return context.WithValue(ctx, stageKey{}, s)
}

// StageFrom returns the stage ctx runs in, or nil. A stage puts itself in
// the ctx of its function only when the call is observed: when ctx
// carries a Run or the stage's span records.
func StageFrom(ctx context.Context) *Stage {
	s, _ := ctx.Value(stageKey{}).(*Stage)
	return s
}
