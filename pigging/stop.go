package pigging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/semkeys"
)

// errStopInRun is what Stop returns for a Tracker that Run made.
var errStopInRun = errors.New("pigging: Stop called inside Run's function: Run stops the run when the function returns; return from it instead")

// Stop ends the run. In order: it waits for records being written and
// sends later ones to stderr (counted in pigging.records.after_stop); logs
// "TOTAL SCRIPT TIME" as the log's last record; syncs and closes the log;
// settles the lock file — removed after a run that succeeded; kept with
// its RunState and the error otherwise: StateFailure after a run that
// failed (LogException was called, a panic is in flight, records could not
// be written), StateError when the lock was removed or replaced under the
// run, StateTimeout after a run whose ctx ran past its deadline (or was
// cancelled with a cause wrapping context.DeadlineExceeded), whether or
// not it failed then, StateCancellation after a run whose ctx was
// cancelled, unless the stale policy is TakeOver (the lock is then
// removed); then ends the run span, prints "TOTAL SCRIPT TIME" to the
// output (a closed stdout never kills the process here), and flushes the
// tracer, meter and logger providers when they can (5 s at most for the
// three).
//
// Deferred directly (defer t.Stop()), it records a panic in flight with its
// stack before letting it go on. It returns ErrNotStarted before Start,
// ErrStopped after Stop, a *LogWriteError when records were lost, an error
// wrapping ErrLockLost when the lock file was removed or replaced, or the
// errors of stopping itself (closing the log, writing the lock), joined.
// Inside Run's function it does nothing and returns an error: Run stops.
func (t *Tracker) Stop() error {
	if v := recover(); v != nil {
		defer panic(v)
		if t != nil && !t.managed {
			t.LogException(&PanicError{Value: v, Stack: debug.Stack()})
		}
	}
	if t == nil {
		return ErrNotStarted
	}
	if t.managed {
		return errStopInRun
	}
	return t.stop()
}

func (t *Tracker) stop() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.state.Load() {
	case stateNew:
		return ErrNotStarted
	case stateStopped:
		return ErrStopped
	}
	r := t.run.Load()
	close(r.done)
	lctx, cancel := lockContext(r.ctx)
	defer cancel()
	r.mu.Lock() // records in flight finish; later ones go to stderr
	end := r.closeLog(lctx)
	r.mu.Unlock()
	t.state.Store(stateStopped)
	t.run.Store(nil)

	// The log's lock first: whoever takes the lock file next must find
	// the log free.
	if err := r.logLock.Unlock(); err != nil {
		end.errs = append(end.errs, pathError("log", t.logPath, err))
	}
	// The lock file is settled before anything is printed.
	if err := r.settle(lctx, end.state, end.failure); err != nil {
		end.errs = append(end.errs, pathError("lock", t.locker.String(), err))
	}
	r.endSpan(&end)
	t.tel.runEnded(r.spanCtx, t.cfg.name, end.state, end.dur, end.time, end.failure)
	if err := writeIgnoringSIGPIPE(t.cfg.output, []byte(end.total()+"\n")); err != nil {
		otel.Handle(fmt.Errorf("pigging: printing TOTAL SCRIPT TIME: %w", err))
	}
	t.flush()
	return errors.Join(end.errs...)
}

// runEnd is how a run ended, as Stop found it.
type runEnd struct {
	state   RunState
	failure error // the run's failure, or the cause of its end; nil after success
	time    time.Time
	dur     time.Duration
	errs    []error // errors Stop returns
}

// attrs are the attributes of the run's stop event and log record: its
// result and duration, and error.type when it did not succeed.
func (e *runEnd) attrs() []attribute.KeyValue {
	attrs := []attribute.KeyValue{semkeys.Result.String(string(e.state)), semkeys.DurationMS.Int64(e.dur.Milliseconds())}
	if e.state != StateSuccess {
		attrs = append(attrs, errtype.KeyErrorType.String(errtype.Of(e.failure)))
	}
	return attrs
}

// total is the run's last line: "TOTAL SCRIPT TIME: <duration>".
func (e *runEnd) total() string { return "TOTAL SCRIPT TIME: " + e.dur.String() }

// closeLog finds how the run ended, writes the log's last records (a
// lost lock, a cancellation, TOTAL SCRIPT TIME), then syncs and closes the
// log. The caller holds r.mu alone.
func (r *run) closeLog(lctx context.Context) runEnd {
	t := r.t
	var e runEnd
	r.failMu.Lock()
	failure, lockLost := r.failure, r.lockLost
	r.failMu.Unlock()
	if lockLost == nil {
		lockLost = r.lease.Check(lctx)
	}
	if lerr := lockLost; lerr != nil {
		e.errs = append(e.errs, lerr)
		if !errors.Is(failure, ErrLockLost) {
			r.record(&record{time: time.Now(), level: slog.LevelError, own: true,
				msg: "Lost the lock " + t.locker.String() + " during the run (" + errtype.Message(lerr) + "): another run may have started beside this one"}, fields{})
		}
		if failure == nil {
			failure = lerr
		}
	}
	e.state = StateSuccess
	switch {
	case lockLost != nil:
		e.state = StateError
	case failure != nil, r.lost.Load() > 0:
		e.state = StateFailure
		if failure != nil && ranPastDeadline(r.ctx) {
			// It failed because its time was up: the command's --timeout
			// or a deadline of the job's ctx.
			e.state = StateTimeout
		}
	case r.ctx.Err() != nil:
		e.state = StateCancellation
		failure = context.Cause(r.ctx)
		if ranPastDeadline(r.ctx) {
			e.state = StateTimeout
		}
		r.record(&record{time: time.Now(), level: slog.LevelWarn, msg: "Run cancelled: " + errtype.Message(failure), own: true, event: true}, fields{})
	}
	e.time = time.Now()
	e.dur = e.time.Sub(r.started)
	e.failure = failure
	r.recordHistory(lctx, &e)
	r.record(&record{time: e.time, level: slog.LevelInfo, msg: e.total(), own: true, eventName: eventRunStop,
		otelAttrs: e.attrs()}, fields{})
	if n := r.lost.Load(); n > 0 {
		r.failMu.Lock()
		writeErr := r.writeErr
		r.failMu.Unlock()
		werr := &LogWriteError{Path: t.logPath, Lost: n, Err: writeErr}
		e.errs = append(e.errs, werr)
		if failure == nil {
			failure = werr
			e.state = StateFailure
		}
	}
	e.failure = failure
	r.closing = true
	if err := r.file.Sync(); err != nil {
		e.errs = append(e.errs, pathError("log", t.logPath, err))
	}
	if err := r.file.Close(); err != nil {
		e.errs = append(e.errs, pathError("log", t.logPath, err))
	}
	return e
}

// endSpan adds the stop event and the run's counts and result to the run
// span, and ends it.
func (r *run) endSpan(e *runEnd) {
	if r.t.tel.spanEvents {
		r.span.AddEvent("stop", trace.WithTimestamp(e.time), trace.WithAttributes(e.attrs()...))
	}
	logsDropped, excDropped := r.budget.dropped()
	if logsDropped > 0 {
		r.span.SetAttributes(semkeys.EventsDropped.Int64(logsDropped))
	}
	if excDropped > 0 {
		r.span.SetAttributes(semkeys.ExceptionsDropped.Int64(excDropped))
	}
	if n := r.t.late.Load(); n > 0 {
		r.span.SetAttributes(semkeys.RecordsAfterStop.Int64(n))
	}
	r.span.SetAttributes(semkeys.Result.String(string(e.state)))
	if e.state != StateSuccess {
		r.span.SetAttributes(errtype.KeyErrorType.String(errtype.Of(e.failure)))
		r.span.SetStatus(codes.Error, errtype.Message(e.failure))
	}
	r.span.End(trace.WithTimestamp(e.time))
}

// ranPastDeadline reports whether ctx ended because its deadline passed,
// or was cancelled with a cause that wraps context.DeadlineExceeded.
func ranPastDeadline(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(context.Cause(ctx), context.DeadlineExceeded)
}

// settle leaves the lock as the run's end says: released after success
// (and after a cancellation when the stale policy is TakeOver), else kept
// with the run's state and error.
func (r *run) settle(ctx context.Context, state RunState, failure error) error {
	if state == StateSuccess || state == StateCancellation && r.t.cfg.stale == TakeOver {
		return r.lease.Release(ctx)
	}
	info := r.info
	info.Status = state
	info.Error = errtype.Message(failure)
	return r.lease.Keep(ctx, &info)
}
