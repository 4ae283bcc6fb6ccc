package pigging

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/semkeys"
)

// Sizes of the scratch space that a record keeps on the stack. A longer
// line, or a record with more attributes, grows onto the heap.
const (
	stackLine  = 512
	stackAttrs = 8
)

// record is one log record on its way to the log file and the spans. Every
// record takes this one path, whoever logs it (Tracker's methods, the slog
// handler, the middleware, pigging itself): see Tracker.emit.
type record struct {
	// ctx is where the record was logged: its span gets the log event and
	// its stage is named on the line. nil means the run itself.
	ctx   context.Context
	time  time.Time
	level slog.Level
	msg   string
	// stack is a panic's stack, written as continuation lines.
	stack []byte
	// own marks pigging's own records, written whatever the minimum level.
	own bool
	// event adds the record as a log event while the event budget lasts.
	event bool
	// failure is the run's failure that this record reports (LogException):
	// it becomes the run's outcome if, and only if, the record is accepted
	// before Stop begins.
	failure error
	// exception adds an exception event for failure to the run span.
	exception bool
	// eventName names pigging's own records as events in their log
	// records (start, stop); otelAttrs go only to the log record.
	eventName string
	otelAttrs []attribute.KeyValue
}

// fields are a record's attributes: slog-style key/value pairs (Tracker's
// methods), or attributes made already (the handler, the middleware), after
// those of the handler h (WithAttrs, WithGroup). They travel beside the
// record, not in it: escape analysis follows a struct as a whole, and the
// run keeps a record's error and reads its ctx, which would move the
// caller's arguments to the heap with them (an allocation on every Info).
type fields struct {
	h     *handler
	args  []any
	attrs []slog.Attr
}

// Debug logs msg at DEBUG with slog-style key/value pairs; see Info. It is
// written only when WithMinLevel allows DEBUG.
func (t *Tracker) Debug(msg string, args ...any) {
	t.emit(&record{time: time.Now(), level: slog.LevelDebug, msg: msg, event: true}, fields{args: args})
}

// Info logs msg at INFO with slog-style key/value pairs. It is safe for
// concurrent use. A record that cannot be written to the log file (before
// Start, after Stop began, or on a write error) goes to stderr instead.
func (t *Tracker) Info(msg string, args ...any) {
	t.emit(&record{time: time.Now(), level: slog.LevelInfo, msg: msg, event: true}, fields{args: args})
}

// Warn logs msg at WARN; see Info.
func (t *Tracker) Warn(msg string, args ...any) {
	t.emit(&record{time: time.Now(), level: slog.LevelWarn, msg: msg, event: true}, fields{args: args})
}

// Error logs msg at ERROR and syncs the log file; see Info. It does not
// mark the run failed: LogException does.
func (t *Tracker) Error(msg string, args ...any) {
	t.emit(&record{time: time.Now(), level: slog.LevelError, msg: msg, event: true}, fields{args: args})
}

// Log logs msg at level, which must be slog.LevelDebug, LevelInfo,
// LevelWarn or LevelError, with slog-style key/value pairs. Records below
// the minimum level (WithMinLevel) are dropped. It returns ErrInvalidLevel
// for any other level; ErrNotStarted before Start and ErrStopped after Stop,
// whatever the level; or the write error. In every case but the invalid
// level a record at or above the minimum goes to stderr when it cannot go
// to the log, so it is not lost. It is safe for concurrent use.
func (t *Tracker) Log(level slog.Leveler, msg string, args ...any) error {
	var l slog.Level
	if level != nil {
		l = level.Level()
	}
	if level == nil || !validLevel(l) {
		return fmt.Errorf("%w %v: use slog.LevelDebug, LevelInfo, LevelWarn or LevelError", ErrInvalidLevel, level)
	}
	return t.emit(&record{time: time.Now(), level: l, msg: msg, event: true}, fields{args: args})
}

// enabled reports whether a record at level is written.
func (t *Tracker) enabled(level slog.Level) bool {
	if t == nil {
		return level >= slog.LevelInfo
	}
	return level >= t.cfg.minLevel.Level()
}

// emit is the one way a record is written, whoever logs it: to the log file
// with one write(2) while the run lives, else to stderr; as a log event
// while the event budget lasts. It owns the rules every record follows:
// the minimum level, the stderr fallback, the torn-tail rule, the
// after-Stop rule, and the accounting of lost records and failures.
func (t *Tracker) emit(rec *record, f fields) error {
	if t == nil {
		if rec.own || rec.level >= slog.LevelInfo {
			writeStderr("", rec, f, errNoTracker)
		}
		return ErrNotStarted
	}
	r := t.run.Load()
	if r == nil {
		err := t.lifecycleErr()
		if rec.own || t.enabled(rec.level) {
			writeStderr(t.logPath, rec, f, err)
		}
		return err
	}
	if !rec.own && !t.enabled(rec.level) {
		return nil
	}
	r.mu.RLock()
	if r.closing {
		r.mu.RUnlock()
		t.late.Add(1)
		writeStderr(t.logPath, rec, f, errAfterStop)
		return ErrStopped
	}
	err := r.record(rec, f)
	r.mu.RUnlock()
	return err
}

// record writes rec to the log and its event to a span. The caller holds
// r.mu (shared, or alone in Stop).
func (r *run) record(rec *record, f fields) error {
	if rec.failure != nil {
		r.setFailure(rec.failure)
	}
	var span trace.Span
	if rec.event {
		span = r.eventSpan(rec.ctx)
	}
	logCtx := rec.ctx
	if logCtx == nil {
		logCtx = r.spanCtx
	}
	logOn := r.t.tel.logEnabled(logCtx, rec.level)
	// buf[0] is a spare newline for the torn-tail rule (see writeLine).
	var buf [stackLine]byte
	buf[0] = '\n'
	var err error
	if span == nil && !logOn {
		err = r.writeLine(rec.format(buf[:1], nil, f), rec.level)
	} else {
		// The attributes are made only when a span event or a log
		// record will carry them: past the event budget, kvs is nil.
		kvs := make([]attribute.KeyValue, 2, 2+stackAttrs)
		kvs[0] = semkeys.LogSeverity.String(levelOf(rec.level).name)
		kvs[1] = semkeys.LogMessage.String(rec.msg)
		err = r.writeLine(rec.format(buf[:1], &kvs, f), rec.level)
		if logOn {
			r.t.tel.emitLog(logCtx, rec, kvs[2:], r.t.cfg.name)
		}
		if span != nil {
			span.AddEvent("log", trace.WithAttributes(kvs...))
		}
	}
	if rec.failure != nil {
		if rec.exception {
			if r.t.tel.exceptions.spans && r.budget.takeException() {
				errtype.AddException(r.span, rec.failure, rec.stack)
			}
			if r.t.tel.exceptions.logs {
				r.t.tel.emitException(r.spanCtx, rec.failure, rec.stack, r.t.cfg.name)
			}
		}
		r.markFailed()
	}
	return err
}

// eventSpan counts the log event of a record logged with ctx (nil for the
// run itself) and returns the span it goes on: the span in ctx when that
// records, or else the run span. It returns nil when the record adds no
// event: no span records, the event budget is spent (the event is only
// counted then), or the run span has no room left.
func (r *run) eventSpan(ctx context.Context) trace.Span {
	if r.budget.spent() {
		// Only counted, when a span records.
		if r.span.IsRecording() || ctx != nil && trace.SpanFromContext(ctx).IsRecording() {
			r.budget.count()
		}
		return nil
	}
	if ctx != nil {
		if s := trace.SpanFromContext(ctx); s.IsRecording() {
			if !r.budget.takeLog(s.SpanContext().SpanID() == r.spanID) {
				return nil
			}
			return s
		}
	}
	if !r.span.IsRecording() || !r.budget.takeLog(true) {
		return nil
	}
	return r.span
}
