package pigging

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/runctx"
)

// hook gives the middleware what it needs of a run.
type hook struct{ t *Tracker }

var _ runctx.Run = hook{}

func (h hook) TracerProvider() trace.TracerProvider { return h.t.cfg.provider }

func (h hook) Exceptions() errtype.Signals { return h.t.tel.exceptions }

func (h hook) Exception(ctx context.Context, err error, stack []byte) {
	h.t.tel.emitException(ctx, time.Now(), err, stack, h.t.cfg.name)
}

func (h hook) LogAttrs(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	h.t.emit(&record{ctx: ctx, time: time.Now(), level: levelOf(level).level, msg: msg, event: true}, fields{attrs: attrs})
}

// StageEnded writes the whole closing line of a stage call and records
// its metrics. The line's time is also the end of the duration it shows, so
// the call costs one clock read, not two.
func (h hook) StageEnded(ctx context.Context, e *runctx.StageEnd) {
	now := time.Now()
	d := now.Sub(e.Start)
	var a [4]slog.Attr
	attrs := append(a[:0], slog.Duration("duration", roundDuration(d)))
	if e.HasIn {
		attrs = append(attrs, slog.Int64("records_in", e.In))
	}
	if e.HasOut {
		attrs = append(attrs, slog.Int64("records_out", e.Out))
	}
	if e.Attempts > 1 {
		attrs = append(attrs, slog.Int("attempts", e.Attempts))
	}
	r := h.t.currentRun()
	if r != nil {
		r.stages.add(e)
	}
	rec := record{ctx: ctx, time: now, level: slog.LevelInfo, event: true}
	if e.Err == nil {
		rec.msg = e.Name + " done"
	} else {
		rec.level, rec.stack, rec.own = slog.LevelError, panicStack(e.Err), true
		rec.msg = e.Name + " failed: " + errtype.Message(e.Err)
		if r != nil {
			stage := "a stage"
			if e.Stage != nil {
				stage = e.Name
			}
			r.noteReport(e.Err, stage)
		}
	}
	h.t.emit(&rec, fields{attrs: attrs})
	h.t.tel.stageEnded(ctx, h.t.cfg.name, e, d)
}

// roundDuration keeps three significant digits or so: 12ms, 1.234ms,
// 850µs.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}
