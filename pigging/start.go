package pigging

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/logfmt"
	"github.com/pigging-go/pigging/internal/runctx"
	"github.com/pigging-go/pigging/internal/semkeys"
)

// Start begins the run: it starts the run span as a child of the span in
// ctx, takes the lock without waiting and writes the holder's details, the
// span's trace among them, into the lock file, then starts a fresh log file
// and the timer. It returns a ctx that carries the run span and the
// Tracker. The paths are made absolute here, so a later os.Chdir does not
// move the run's files.
//
// When another process holds the lock, or the run the lock file names is
// still alive (it holds the log the file names, as after the file was
// replaced under it), Start returns a *LockError that unwraps to
// ErrLocked; when a previous run left it (failed, cancelled or died) and
// the policy is Refuse, one that unwraps to ErrStaleLock. A refused Start
// appends one record to the existing log without truncating it (WARN while
// the holder lives, ERROR after a failed or dead run), ends its span with
// the reason, and leaves the Tracker unstarted so that Start may be tried
// again. A bad path gives a *PathError; a Start that fails leaves no file
// it created, and a failure of the lock store or the log ends the span
// with the error. Start after Start returns ErrAlreadyStarted, after Stop
// ErrStopped. On any error the returned ctx is the one given.
func (t *Tracker) Start(ctx context.Context) (context.Context, error) {
	if t == nil {
		return ctx, fmt.Errorf("%w: Start on a nil *Tracker", ErrNotStarted)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.state.Load() {
	case stateStarted:
		return ctx, ErrAlreadyStarted
	case stateStopped:
		return ctx, ErrStopped
	}
	logAbs, err := t.checkPaths()
	if err != nil {
		return ctx, err
	}
	now := time.Now()
	info := t.holderInfo(now, logAbs)
	// The span starts before the lock is taken, so that the lock is
	// written once, with the run's trace in it; a Start that is refused
	// or fails ends it with the reason.
	runCtx, span := t.startSpan(ctx, now)
	info.TraceID, info.SpanID = spanIDs(span.SpanContext())
	lctx, cancel := lockContext(ctx)
	defer cancel()
	res, err := t.locker.Acquire(lctx, &info)
	if err != nil {
		return ctx, t.failStart(ctx, span, now, err)
	}
	if lerr := t.refusal(res, logAbs); lerr != nil {
		if res.Lease != nil {
			if err := res.Lease.Abort(lctx); err != nil {
				return ctx, t.failStart(ctx, span, now, errors.Join(lerr, err))
			}
		}
		return ctx, t.refuse(ctx, span, now, lerr)
	}
	r := t.beginRun(ctx, span, res, info, now)
	prevLog, err := r.openFiles(lctx, res)
	if err != nil {
		return ctx, t.failStart(ctx, span, now, errors.Join(err, res.Lease.Abort(lctx)))
	}
	t.run.Store(r)
	t.state.Store(stateStarted)
	t.tel.runStarted(r.spanCtx, t.cfg.name, now)
	r.logStart(res, prevLog)
	if lost := res.Lease.Lost(); lost != nil {
		var cancel context.CancelCauseFunc
		runCtx, cancel = context.WithCancelCause(runCtx)
		go r.watchLost(lost, cancel)
	}
	runCtx = context.WithValue(runCtx, trackerKey{}, t)
	runCtx = runctx.WithRun(runCtx, hook{t})
	return runCtx, nil
}

// checkPaths returns the log path made absolute, after refusing a log
// path that is not a plain file, or that is the lock file itself.
func (t *Tracker) checkPaths() (string, error) {
	logAbs, err := t.logAbs()
	if err != nil {
		return "", err
	}
	if err := checkPath("log", t.logPath, logAbs); err != nil {
		return "", err
	}
	if t.fileLock && t.lockPath != "" {
		if lockAbs, err := filepath.Abs(t.lockPath); err == nil && sameFileOnDisk(logAbs, lockAbs) {
			return "", &PathError{Op: "lock", Path: t.lockPath, Err: errors.New("is the same file as the log path " + t.logPath + "; give the lock its own file")}
		}
	}
	return logAbs, nil
}

// holderInfo is what the lock says about a run starting now.
func (t *Tracker) holderInfo(now time.Time, logAbs string) LockInfo {
	host, _ := os.Hostname()
	return LockInfo{
		PID:     os.Getpid(),
		Host:    host,
		Job:     t.cfg.name,
		Started: now.UTC(),
		Status:  StateRunning,
		Log:     logAbs,
	}
}

// refusal returns why the run that Acquire found res for may not go on,
// or nil when it may.
func (t *Tracker) refusal(res Acquired, logAbs string) *LockError {
	lerr := &LockError{Path: t.locker.String(), LogPath: t.logPath, Holder: res.Holder, Err: ErrLocked, Detail: res.Detail, fileLock: t.fileLock}
	switch h := res.Holder; {
	case res.Lease == nil:
		return lerr
	case res.Stale && holderLogHeld(h):
		// The lock is ours, but the run the file names may still be
		// alive: a lock file replaced under a live run (an editor's
		// save, a restore) names it, and it holds its log until it
		// stops. Whatever log this run was given, that run is in
		// progress.
		lerr.Detail = "its log file " + h.Log + " is held by a live run whose lock file was replaced"
		return lerr
	case logHeld(logAbs):
		// A live run may still hold this run's log, when its own lock
		// file was removed or replaced by hand: it is not ours to
		// truncate.
		if h != nil && h.Status != StateRunning {
			lerr.Holder = nil
		}
		lerr.Detail = "its log file is held by a live run whose lock was removed or replaced"
		return lerr
	case res.Stale && t.cfg.stale == Refuse:
		lerr.Err = ErrStaleLock
		return lerr
	}
	return nil
}

// startSpan starts the span of a run beginning at now, as a child of the
// span in ctx, and returns the ctx that carries it. It is the CI/CD
// semantic conventions' pipeline run span: kind SERVER, named
// "{action} {pipeline}" (see runSpanName).
func (t *Tracker) startSpan(ctx context.Context, now time.Time) (context.Context, trace.Span) {
	runCtx, span := t.tracer.Start(ctx, runSpanName(t.cfg.name),
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(now),
		trace.WithAttributes(t.spanAttrs()...))
	if span.IsRecording() {
		span.SetAttributes(runID(span.SpanContext()))
	}
	return runCtx, span
}

// failStart ends the span of a Start begun at now that failed before its
// run began (the lock store or the log could not be used) with err,
// records it as a run that ended in error in the CI/CD metrics, flushes
// the telemetry and returns err.
func (t *Tracker) failStart(ctx context.Context, span trace.Span, now time.Time, err error) error {
	if t.tel.exceptions.Spans {
		errtype.AddException(span, err, nil)
	}
	end := time.Now()
	span.SetAttributes(errtype.KeyErrorType.String(errtype.Of(err)), semkeys.Result.String(string(StateError)))
	span.SetStatus(codes.Error, err.Error())
	span.End(trace.WithTimestamp(end))
	t.tel.cicdRunEnded(trace.ContextWithSpan(context.WithoutCancel(ctx), span), t.cfg.name, StateError, end.Sub(now), err)
	t.flush()
	return err
}

// beginRun makes the run of span, linked to the run that left a stale
// lock.
func (t *Tracker) beginRun(ctx context.Context, span trace.Span, res Acquired, info LockInfo, now time.Time) *run {
	if res.Stale {
		if l, ok := holderLink(res.Holder, "took over stale lock"); ok {
			span.AddLink(l)
		}
	}
	return &run{
		spanCtx: trace.ContextWithSpan(context.Background(), span),
		t:       t,
		span:    span,
		spanID:  span.SpanContext().SpanID(),
		budget:  newEventBudget(t.cfg.eventBudget),
		lease:   res.Lease,
		done:    make(chan struct{}),
		ctx:     ctx,
		started: now,
		info:    info,
		logAbs:  info.Log,
		history: t.history(),
	}
}

// openFiles writes this run into a stale lock it took over (a lock it
// created already names it), keeps the log of the run that left it beside
// the new one, and opens a fresh log. It returns where the previous log
// was kept, or "".
func (r *run) openFiles(lctx context.Context, res Acquired) (prevLog string, err error) {
	t := r.t
	if res.Stale {
		if err := res.Lease.Update(lctx, &r.info); err != nil {
			lockName := t.locker.String()
			return "", relabel(pathError("lock", lockName, err), lockName)
		}
	}
	if res.Stale && !ownLog(res.Holder, r.logAbs, r.info.Host) {
		// The run that left the lock wrote another log, on this host or
		// another (pglock): that log is the one to read, and this host's
		// own is not the failed run's to keep.
		prevLog = res.Holder.Log
	} else if res.Stale {
		prevLog = t.logPath + ".prev"
		if err := os.Rename(r.logAbs, r.logAbs+".prev"); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return "", pathError("log", t.logPath, fmt.Errorf("keeping the previous run's log as %s: %w", prevLog, err))
			}
			prevLog = ""
		}
	}
	f, logLock, err := openLog(r.logAbs, t.cfg.fileMode)
	if err != nil {
		return "", relabel(err, t.logPath)
	}
	r.file, r.logLock = f, logLock
	return prevLog, nil
}

// ownLog reports whether the run h describes wrote the log at logAbs on
// host: its log names that path on that host, or it does not say (a lock
// written by an older version), so the log at logAbs is taken as its.
func ownLog(h *LockInfo, logAbs, host string) bool {
	return h == nil || h.Log == "" || h.Log == logAbs && (h.Host == "" || h.Host == host)
}

// logStart writes the run's first records: the start event, "Starting
// logging", and the WARN of a stale lock taken over.
func (r *run) logStart(res Acquired, prevLog string) {
	t := r.t
	// The start event is a view of the start log record: the same
	// attributes.
	attrs := []attribute.KeyValue{attribute.Int("process.pid", r.info.PID), attribute.String("host.name", r.info.Host)}
	if t.tel.spanEvents {
		r.span.AddEvent("start", trace.WithTimestamp(r.started), trace.WithAttributes(attrs...))
	}
	// job and trace_id are for the reader of the file only: the log record
	// has pigging.job, and its trace context is the record's own.
	header := logfmt.AppendValue([]byte(" job="), t.cfg.name)
	if r.info.TraceID != "" {
		header = append(append(header, " trace_id="...), r.info.TraceID...)
	}
	t.emit(&record{time: r.started, level: slog.LevelInfo, msg: "Starting logging", own: true, eventName: eventRunStart, otelAttrs: attrs}, fields{h: &handler{text: header}})
	if res.Stale {
		t.emit(&record{time: time.Now(), level: slog.LevelWarn, msg: "Took over a stale lock: " + staleText(res.Holder, res.Detail), own: true, event: true},
			fields{attrs: takeOverAttrs(res.Holder, prevLog)})
	}
}

// lockTimeout bounds each operation on the lock store.
const lockTimeout = 10 * time.Second

// lockContext returns a ctx for an operation on the lock store: ctx's
// values without its cancellation (a cancelled run still settles its
// lock), bounded by lockTimeout.
func lockContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
}

// watchLost waits for the lease to be lost while the run goes on; then it
// logs an ERROR, fails the run and cancels the run's ctx with a cause that
// says so, so that the job stops writing as if it were alone.
func (r *run) watchLost(lost <-chan struct{}, cancel context.CancelCauseFunc) {
	select {
	case <-r.done:
		cancel(nil)
	case <-lost:
		ctx, cancel2 := lockContext(r.ctx)
		err := r.lease.Check(ctx)
		cancel2()
		if err == nil {
			err = fmt.Errorf("%w: %s", ErrLockLost, r.t.locker)
		}
		r.failMu.Lock()
		r.lockLost = err
		r.failMu.Unlock()
		r.t.emit(&record{time: time.Now(), level: slog.LevelError, own: true, failure: err,
			msg: "Lost the lock " + r.t.locker.String() + " during the run (" + errtype.Message(err) + "): another run may start beside this one; stopping"}, fields{})
		cancel(err)
	}
}

// holderLink returns a link to the run the lock file names, when it names
// a valid trace.
func holderLink(h *LockInfo, reason string) (trace.Link, bool) {
	if h == nil {
		return trace.Link{}, false
	}
	tid, err1 := trace.TraceIDFromHex(h.TraceID)
	sid, err2 := trace.SpanIDFromHex(h.SpanID)
	if err1 != nil || err2 != nil {
		return trace.Link{}, false
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
	attrs := []attribute.KeyValue{semkeys.LinkReason.String(reason), attribute.Int("process.pid", h.PID)}
	if h.Status != "" {
		attrs = append(attrs, semkeys.PreviousStatus.String(string(h.Status)))
	}
	return trace.Link{SpanContext: sc, Attributes: attrs}, true
}

func staleText(h *LockInfo, detail string) string {
	if h == nil {
		return "the lock file did not say which run left it (" + detail + ")"
	}
	return "previous run " + h.describe() + h.outcome()
}

func takeOverAttrs(h *LockInfo, prevLog string) []slog.Attr {
	var attrs []slog.Attr
	if h != nil {
		attrs = append(attrs, slog.Int("previous_pid", h.PID))
		if h.TraceID != "" {
			attrs = append(attrs, slog.String("previous_trace_id", h.TraceID))
		}
	}
	if prevLog != "" {
		attrs = append(attrs, slog.String("previous_log", prevLog))
	}
	if host, _ := os.Hostname(); h != nil && h.Host != "" && h.Host != host {
		attrs = append(attrs, slog.String("previous_host", h.Host))
	}
	return attrs
}

// refuse records a Start that may not go on: one record appended to the
// existing log, and its span, begun at now, ended saying who holds the
// lock. While the holder lives the record is a WARN (the overlap is worth
// knowing, but it is not the live run's failure); after a failed or dead
// run, an ERROR.
func (t *Tracker) refuse(ctx context.Context, span trace.Span, now time.Time, lerr *LockError) error {
	if a, ok := t.locker.(ClearAdvisor); ok {
		lerr.advice = a.ClearAdvice()
	}
	reason, metricReason := "lock held", "held"
	if lerr.Err == ErrStaleLock {
		reason, metricReason = "stale lock", "stale"
	}
	if l, ok := holderLink(lerr.Holder, reason); ok {
		span.AddLink(l)
	}
	spanCtx := trace.ContextWithSpan(context.WithoutCancel(ctx), span)
	msg := lerr.Error()

	// The refusal is the refused run's one record, and its end: its log
	// record is a stop event, whose view on the span is the stop event.
	end := time.Now()
	errType := errtype.KeyErrorType.String(errtype.Of(lerr))
	stopAttrs := []attribute.KeyValue{semkeys.Result.String(string(StateSkip)), semkeys.DurationMS.Int64(end.Sub(now).Milliseconds()), errType}
	rec := record{time: end, level: slog.LevelError, msg: "Locked: " + strings.TrimPrefix(msg, "pigging: "), own: true,
		eventName: eventRunStop, otelAttrs: stopAttrs}
	if lerr.Err == ErrLocked {
		rec.level = slog.LevelWarn
		rec.msg = "Refused a second run (pid " + strconv.Itoa(os.Getpid()) + "): " + strings.TrimPrefix(msg, "pigging: ")
	}
	f := fields{attrs: []slog.Attr{slog.String("lock", t.locker.String())}}
	if lerr.Holder != nil {
		f.attrs = append(f.attrs, slog.Int("holder_pid", lerr.Holder.PID))
	}
	var kvs *[]attribute.KeyValue
	logOn := t.tel.logEnabled(spanCtx, rec.level)
	if logOn {
		kvs = new([]attribute.KeyValue)
	}
	line := rec.format(nil, kvs, f)
	if logOn {
		t.tel.emitLog(spanCtx, &rec, *kvs, t.cfg.name)
	}
	if t.tel.exceptions.Spans {
		errtype.AddException(span, lerr, nil)
	}
	if t.tel.exceptions.Logs {
		t.tel.emitException(spanCtx, rec.time, lerr, nil, t.cfg.name)
	}
	errs := []error{lerr}
	if logAbs, err := t.logAbs(); err != nil {
		errs = append(errs, err)
	} else if err := appendToLog(logAbs, t.cfg.fileMode, line); err != nil {
		errs = append(errs, relabel(err, t.logPath))
		t.toStderr(line, err)
	}

	logAbs, _ := t.logAbs()
	t.recordRefusal(context.WithoutCancel(ctx), t.refusedEntry(now, end, span.SpanContext(), logAbs, lerr))
	if t.tel.spanEvents {
		span.AddEvent("stop", trace.WithTimestamp(end), trace.WithAttributes(stopAttrs...))
	}
	span.SetAttributes(errType, semkeys.Result.String(string(StateSkip)))
	span.SetStatus(codes.Error, msg)
	span.End(trace.WithTimestamp(end))
	t.tel.refused(spanCtx, t.cfg.name, metricReason, end.Sub(now), lerr)
	t.flush()
	return errors.Join(errs...)
}

// runSpanName is the name of the span of a run of job: the CI/CD
// conventions' "{action} {pipeline}", the action being RUN.
func runSpanName(job string) string { return "RUN " + job }
