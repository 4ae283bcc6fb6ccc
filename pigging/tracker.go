package pigging

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/logfmt"
	"github.com/pigging-go/pigging/internal/runctx"
	"github.com/pigging-go/pigging/internal/wallclock"
)

// ScopeName is the instrumentation scope of the spans pigging makes.
const ScopeName = "github.com/pigging-go/pigging"

// Version is the version of pigging reported with its instrumentation scope.
const Version = "0.1.0"

// flushTimeout bounds the ForceFlush at the end of a run.
const flushTimeout = 5 * time.Second

// Attribute keys on pigging's spans and events.
const (
	keyJob           = attribute.Key("pigging.job")
	keyLogPath       = attribute.Key("pigging.log.path")
	keyLockPath      = attribute.Key("pigging.lock.path")
	keyDurationMS    = attribute.Key("pigging.duration_ms")
	keyStatus        = attribute.Key("pigging.status")
	keyEventsDropped = attribute.Key("pigging.events.dropped")
	keyExcDropped    = attribute.Key("pigging.exceptions.dropped")
	keyLinkReason    = attribute.Key("pigging.link.reason")
	keyPrevStatus    = attribute.Key("pigging.previous.status")
	keyLogSeverity   = attribute.Key("log.severity")
	keyLogMessage    = attribute.Key("log.message")
)

// Run outcomes, as pigging.status on the stop event.
const (
	outcomeOK        = "ok"
	outcomeFailed    = "failed"
	outcomeCancelled = "cancelled"
	outcomeLocked    = "locked"
)

const (
	stateNew int32 = iota
	stateStarted
	stateStopped
)

// Tracker keeps one run of a job honest: it holds the lock file while the
// run goes on, writes a fresh log file of the run, and traces it as a span.
//
// A Tracker is for one run: New, Start, logging, Stop. Its logging methods
// are safe for concurrent use; Start and Stop are meant to be called once
// each, from one goroutine.
type Tracker struct {
	logPath  string
	lockPath string
	cfg      config
	tracer   trace.Tracer
	logger   *slog.Logger

	mu    sync.Mutex // serialises Start, Stop and failures
	state atomic.Int32
	run   atomic.Pointer[run]
}

// run is the state of a started run. The fields every record reads come
// first, so that they share a cache line or two.
type run struct {
	file   *os.File
	span   trace.Span
	events atomic.Int64
	// runSlots counts the log and exception events on the run span, and
	// runLogs the log events among them (only when the budget is above
	// runSpanLogs); capped so that the span stays under the SDK's default
	// event limit (see runSpanSlots).
	runSlots atomic.Int64
	runLogs  atomic.Int64
	budget   int64 // the event budget, cfg.eventBudget
	// recording caches whether span records: 0 not asked yet, 1 yes, 2 no.
	recording atomic.Int32

	t       *Tracker
	spanID  trace.SpanID
	lock    *lockFile
	ctx     context.Context
	info    LockInfo
	started time.Time
	// capped counts the log events left out by the run span's cap rather
	// than by the budget; excDropped the exception events left out.
	capped     atomic.Int64
	excDropped atomic.Int64

	failMu  sync.Mutex
	failure error
}

type trackerKey struct{}

// New returns a Tracker for the log file at logPath and the lock file at
// lockPath. It only checks what needs no I/O (paths not empty, not the same
// file, options valid) and touches no file; Start reports file system
// problems. The error is a *PathError for a bad path, or names the option.
func New(logPath, lockPath string, opts ...Option) (*Tracker, error) {
	var errs []error
	if logPath == "" {
		errs = append(errs, &PathError{Op: "log", Path: logPath, Err: errEmptyPath})
	}
	if lockPath == "" {
		errs = append(errs, &PathError{Op: "lock", Path: lockPath, Err: errEmptyPath})
	}
	if logPath != "" && lockPath != "" && sameFilePath(logPath, lockPath) {
		errs = append(errs, &PathError{Op: "lock", Path: lockPath, Err: errors.New("is the same file as the log path; give the lock its own file")})
	}
	if logPath != "" && lockPath != "" && sameFilePath(logPath+".prev", lockPath) {
		errs = append(errs, &PathError{Op: "lock", Path: lockPath, Err: errors.New("is where TakeOver keeps the previous run's log; give the lock a file of its own")})
	}
	cfg, err := newConfig(opts)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t := &Tracker{
		logPath:  logPath,
		lockPath: lockPath,
		cfg:      cfg,
		tracer:   cfg.provider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version)),
	}
	t.logger = slog.New(&handler{t: t})
	return t, nil
}

// FromContext returns the Tracker that Start put in ctx, or nil.
func FromContext(ctx context.Context) *Tracker {
	t, _ := ctx.Value(trackerKey{}).(*Tracker)
	return t
}

// Job returns the job's name.
func (t *Tracker) Job() string { return t.cfg.name }

// LogPath returns the path of the log file.
func (t *Tracker) LogPath() string { return t.logPath }

// LockPath returns the path of the lock file.
func (t *Tracker) LockPath() string { return t.lockPath }

// Start begins the run: it takes the lock without waiting, starts the run
// span as a child of the span in ctx, writes the holder's details into the
// lock file, starts a fresh log file and the timer. It returns a ctx that
// carries the run span and the Tracker.
//
// When another process holds the lock, Start returns a *LockError that
// unwraps to ErrLocked; when a previous run left it (failed, cancelled or
// died) and the policy is Refuse, one that unwraps to ErrStaleLock. A
// refused Start appends an "ERROR: Locked" line to the existing log without
// truncating it, leaves a short span with the reason, and leaves the
// Tracker unstarted so that Start may be tried again. A bad path gives a
// *PathError. Start after Start returns ErrAlreadyStarted, after Stop
// ErrStopped. On any error the returned ctx is the one given.
func (t *Tracker) Start(ctx context.Context) (context.Context, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.state.Load() {
	case stateStarted:
		return ctx, ErrAlreadyStarted
	case stateStopped:
		return ctx, ErrStopped
	}
	if err := checkPath("log", t.logPath); err != nil {
		return ctx, err
	}
	if err := checkPath("lock", t.lockPath); err != nil {
		return ctx, err
	}
	if sameFileOnDisk(t.logPath, t.lockPath) {
		return ctx, &PathError{Op: "lock", Path: t.lockPath, Err: errors.New("is the same file as the log path " + t.logPath + "; give the lock its own file")}
	}
	res, err := acquireLock(t.lockPath, t.cfg.fileMode)
	if err != nil {
		return ctx, err
	}
	if res.lock == nil {
		return ctx, t.refuse(ctx, &LockError{Path: t.lockPath, LogPath: t.logPath, Holder: res.holder, Err: ErrLocked, Detail: res.detail})
	}
	if res.stale && t.cfg.stale == Refuse {
		lerr := &LockError{Path: t.lockPath, LogPath: t.logPath, Holder: res.holder, Err: ErrStaleLock, Detail: res.detail}
		if err := res.lock.abort(); err != nil {
			return ctx, errors.Join(lerr, err)
		}
		return ctx, t.refuse(ctx, lerr)
	}

	now := time.Now()
	startOpts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(now),
		trace.WithAttributes(t.spanAttrs()...),
	}
	if res.stale {
		if l, ok := holderLink(res.holder, "took over stale lock"); ok {
			startOpts = append(startOpts, trace.WithLinks(l))
		}
	}
	runCtx, span := t.tracer.Start(ctx, t.cfg.name, startOpts...)
	sc := span.SpanContext()

	host, _ := os.Hostname()
	r := &run{
		t:       t,
		span:    span,
		budget:  int64(t.cfg.eventBudget),
		spanID:  span.SpanContext().SpanID(),
		lock:    res.lock,
		ctx:     ctx,
		started: now,
		info: LockInfo{
			PID:     os.Getpid(),
			Host:    host,
			Job:     t.cfg.name,
			Started: now.UTC(),
			Status:  StatusRunning,
		},
	}
	if sc.IsValid() {
		r.info.TraceID = sc.TraceID().String()
		r.info.SpanID = sc.SpanID().String()
	}
	fail := func(err error) (context.Context, error) {
		err = errors.Join(err, res.lock.abort())
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return ctx, err
	}
	if err := res.lock.write(&r.info, false); err != nil {
		return fail(pathError("lock", t.lockPath, err))
	}
	prevLog := ""
	if res.stale {
		prevLog = t.logPath + ".prev"
		if err := os.Rename(t.logPath, prevLog); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return fail(pathError("log", t.logPath, fmt.Errorf("keeping the previous run's log as %s: %w", prevLog, err)))
			}
			prevLog = ""
		}
	}
	f, err := os.OpenFile(t.logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND|oNoFollow, t.cfg.fileMode)
	if err != nil {
		return fail(pathError("log", t.logPath, err))
	}
	r.file = f
	t.run.Store(r)
	t.state.Store(stateStarted)

	span.AddEvent("start", trace.WithTimestamp(now), trace.WithAttributes(
		attribute.Int("process.pid", r.info.PID),
		attribute.String("host.name", host),
	))
	header := []slog.Attr{slog.String("job", t.cfg.name)}
	if sc.IsValid() {
		header = append(header, slog.String("trace_id", r.info.TraceID))
	}
	r.emit(context.Background(), slog.LevelInfo, now, "Starting logging", nil, header, nil, nil, false)
	if res.stale {
		r.emit(context.Background(), slog.LevelWarn, time.Now(), "Took over a stale lock: "+staleText(res.holder, res.detail), nil, takeOverAttrs(res.holder, prevLog), nil, nil, true)
	}

	runCtx = context.WithValue(runCtx, trackerKey{}, t)
	runCtx = runctx.WithRun(runCtx, hook{t})
	return runCtx, nil
}

func (t *Tracker) spanAttrs() []attribute.KeyValue {
	return []attribute.KeyValue{
		keyJob.String(t.cfg.name),
		keyLogPath.String(t.logPath),
		keyLockPath.String(t.lockPath),
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
	attrs := []attribute.KeyValue{keyLinkReason.String(reason), attribute.Int("process.pid", h.PID)}
	if h.Status != "" {
		attrs = append(attrs, keyPrevStatus.String(h.Status))
	}
	return trace.Link{SpanContext: sc, Attributes: attrs}, true
}

func staleText(h *LockInfo, detail string) string {
	if h == nil {
		return "the lock file did not say which run left it (" + detail + ")"
	}
	s := "previous run " + h.describe()
	switch h.Status {
	case StatusFailed:
		s += " failed"
	case StatusCancelled:
		s += " was cancelled"
	default:
		return s + " died without stopping"
	}
	if h.Error != "" {
		s += ": " + h.Error
	}
	return s
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
	return attrs
}

// refuse records a Start that may not go on: an ERROR line appended to the
// existing log, and a short span saying who holds the lock.
func (t *Tracker) refuse(ctx context.Context, lerr *LockError) error {
	now := time.Now()
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(now),
		trace.WithAttributes(t.spanAttrs()...),
	}
	reason := "lock held"
	if lerr.Err == ErrStaleLock {
		reason = "stale lock"
	}
	if l, ok := holderLink(lerr.Holder, reason); ok {
		opts = append(opts, trace.WithLinks(l))
	}
	_, span := t.tracer.Start(ctx, t.cfg.name, opts...)
	span.AddEvent("start", trace.WithTimestamp(now), trace.WithAttributes(attribute.Int("process.pid", os.Getpid())))
	msg := lerr.Error()
	errtype.AddException(span, lerr, nil)

	var errs []error
	errs = append(errs, lerr)
	line := appendHead(nil, time.Now(), slog.LevelError, "Locked: "+strings.TrimPrefix(msg, "pigging: "))
	line = appendAttrText(line, "", slog.String("lock", t.lockPath))
	if lerr.Holder != nil {
		line = appendAttrText(line, "", slog.Int("holder_pid", lerr.Holder.PID))
	}
	line = append(line, '\n')
	if err := appendToLog(t.logPath, t.cfg.fileMode, line); err != nil {
		errs = append(errs, err)
		os.Stderr.Write(line)
	}

	span.AddEvent("stop", trace.WithAttributes(keyDurationMS.Int64(time.Since(now).Milliseconds()), keyStatus.String(outcomeLocked)))
	span.SetAttributes(errtype.KeyErrorType.String(errtype.Of(lerr)))
	span.SetStatus(codes.Error, msg)
	span.End()
	t.flush()
	return errors.Join(errs...)
}

// appendToLog appends line to the log at path, creating it if needed, and
// syncs it. It never truncates.
func appendToLog(path string, mode fs.FileMode, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|oNoFollow, mode)
	if err != nil {
		return pathError("log", path, err)
	}
	_, err = f.Write(line)
	return errors.Join(err, f.Sync(), f.Close())
}

// Info logs msg at INFO with slog-style key/value pairs. It is safe for
// concurrent use. A record that cannot be written to the log file (before
// Start, after Stop, or on a write error) goes to stderr instead.
func (t *Tracker) Info(msg string, args ...any) { t.log(slog.LevelInfo, msg, args) }

// Warn logs msg at WARN; see Info.
func (t *Tracker) Warn(msg string, args ...any) { t.log(slog.LevelWarn, msg, args) }

// Error logs msg at ERROR and syncs the log file; see Info. It does not
// mark the run failed: LogException does.
func (t *Tracker) Error(msg string, args ...any) { t.log(slog.LevelError, msg, args) }

// Log logs msg at level, which must be slog.LevelDebug, LevelInfo,
// LevelWarn or LevelError, with slog-style key/value pairs. Records below
// the minimum level (WithMinLevel) are dropped. It returns ErrInvalidLevel
// for any other level, ErrNotStarted before Start, ErrStopped after Stop,
// or the write error; in every case but the invalid level the record goes
// to stderr instead, so it is not lost. It is safe for concurrent use.
func (t *Tracker) Log(level slog.Level, msg string, args ...any) error {
	if !validLevel(level) {
		return fmt.Errorf("%w %v: use slog.LevelDebug, LevelInfo, LevelWarn or LevelError", ErrInvalidLevel, level)
	}
	return t.log(level, msg, args)
}

func (t *Tracker) log(level slog.Level, msg string, args []any) error {
	if level < t.cfg.minLevel.Level() {
		return nil
	}
	// The scratch space of the record lives on the stack: logging allocates
	// nothing unless the record outgrows it.
	var line [stackLine]byte
	r := t.run.Load()
	if r == nil {
		var arr [stackAttrs]slog.Attr
		attrs := appendArgs(arr[:0], args)
		err := t.lifecycleErr()
		t.fallback(append(formatLine(line[:0], attrs, wallclock.Now(), level, msg, nil, nil), '\n'), err)
		return err
	}
	// The arguments are read once, straight into the line and, while the
	// event budget lasts, into the attributes of the record's log event.
	b := appendHead(line[:0], wallclock.Now(), level, msg)
	span := r.runEventSpan()
	if span == nil {
		b = appendArgsText(b, args)
		return r.writeLine(append(b, '\n'), level)
	}
	ev := getEventScratch()
	kvs := ev.head(level, msg)
	b, kvs = appendArgsTextKVs(b, kvs, args)
	err := r.writeLine(append(b, '\n'), level)
	ev.add(span, kvs)
	return err
}

func (t *Tracker) lifecycleErr() error {
	if t.state.Load() == stateStopped {
		return ErrStopped
	}
	return ErrNotStarted
}

// fallback writes a record that could not reach the log file to stderr.
func (t *Tracker) fallback(line []byte, err error) {
	msg := make([]byte, 0, len(line)+64)
	msg = append(msg, "pigging: not written to "...)
	msg = append(msg, t.logPath...)
	msg = append(msg, " ("...)
	msg = append(msg, err.Error()...)
	msg = append(msg, "): "...)
	msg = append(msg, line...)
	os.Stderr.Write(msg)
}

// formatLine appends a whole record with attrs, without its newline, to b.
func formatLine(b []byte, attrs []slog.Attr, tm time.Time, level slog.Level, msg string, h *handler, stage *runctx.Stage) []byte {
	b = appendHead(b, tm, level, msg)
	group := ""
	if h != nil {
		b = append(b, h.text...)
		group = h.group
	}
	for _, a := range attrs {
		b = appendAttrText(b, group, a)
	}
	if stage != nil {
		b = append(b, " stage="...)
		b = logfmt.AppendValue(b, stage.Name)
	}
	return b
}

// emit writes one record to the file with one write(2), and adds it as a
// log event while the event budget lasts (when event is set). The record is
// formatted into line, from its start: callers on the hot path pass scratch
// space on their stack, others nil.
func (r *run) emit(ctx context.Context, level slog.Level, tm time.Time, msg string, line []byte, attrs []slog.Attr, h *handler, stack []byte, event bool) error {
	b := formatLine(line[:0], attrs, tm, level, msg, h, runctx.StageFrom(ctx))
	if len(stack) > 0 {
		b = logfmt.AppendStack(b, string(stack))
	}
	b = append(b, '\n')
	err := r.writeLine(b, level)
	if event {
		if span := r.eventSpan(ctx); span != nil {
			ev := getEventScratch()
			kvs := ev.head(level, msg)
			group := ""
			if h != nil {
				kvs = append(kvs, h.kvs...)
				group = h.group
			}
			for _, a := range attrs {
				kvs = appendAttrKVs(kvs, group, a)
			}
			ev.add(span, kvs)
		}
	}
	return err
}

// writeLine writes the whole record b, newline included, with one write(2),
// and syncs the file after an ERROR record. A record that cannot be written
// goes to stderr.
func (r *run) writeLine(b []byte, level slog.Level) error {
	_, err := r.file.Write(b)
	if err == nil && level >= slog.LevelError {
		err = r.file.Sync()
	}
	if err != nil {
		if errors.Is(err, os.ErrClosed) {
			err = ErrStopped
		}
		r.t.fallback(b, err)
	}
	return err
}

// budgetSpent reports whether the run's log events have used up the event
// budget: eventSpan adds no more events, it only counts them.
func (r *run) budgetSpent() bool {
	return r.events.Load() >= r.budget
}

// spanRecording reports whether the run span records. It asks the span once:
// the SDK's IsRecording takes the span's lock, which every record past the
// event budget would otherwise pay. The span stops recording only when Stop
// ends it, and events added after that are dropped by the span itself.
func (r *run) spanRecording() bool {
	switch r.recording.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	rec := r.span.IsRecording()
	if rec {
		r.recording.Store(1)
	} else {
		r.recording.Store(2)
	}
	return rec
}

// eventSpan counts the log event of a record logged with ctx and returns
// the span it goes on: the span in ctx when that records, or else the run
// span. It returns nil when the record adds no event: no span records, the
// event budget is spent (the event is only counted then), or the run span
// has no room left.
func (r *run) eventSpan(ctx context.Context) trace.Span {
	if r.budgetSpent() {
		// Only counted, when a span records, as below; the run span is
		// asked first, as it needs no lock.
		if r.spanRecording() || trace.SpanFromContext(ctx).IsRecording() {
			r.events.Add(1)
		}
		return nil
	}
	if s := trace.SpanFromContext(ctx); s.IsRecording() {
		return r.takeEvent(s)
	}
	return r.takeEvent(nil)
}

// runEventSpan is eventSpan for a record logged without a context, by
// Tracker's own logging methods: its event goes on the run span.
func (r *run) runEventSpan() trace.Span {
	if r.budgetSpent() {
		if r.spanRecording() {
			r.events.Add(1)
		}
		return nil
	}
	return r.takeEvent(nil)
}

// takeEvent counts a log event for span, or for the run span when span is
// nil, and returns the span it goes on, or nil when it adds no event.
func (r *run) takeEvent(span trace.Span) trace.Span {
	if span == nil && !r.spanRecording() {
		return nil
	}
	if r.events.Add(1) > r.budget {
		return nil
	}
	if (span == nil || span.SpanContext().SpanID() == r.spanID) && !r.takeRunSlot(true) {
		r.capped.Add(1)
		return nil
	}
	if span == nil {
		return r.span
	}
	return span
}

// LogException logs err at ERROR (with its stack when it is a
// *PanicError), adds an exception event to the run span, marks the run
// failed so that Stop keeps the lock, and returns err unchanged so that
// "return t.LogException(err)" reads naturally. A nil err is ignored.
// Before Start or after Stop it writes the record to stderr and returns err
// joined with ErrNotStarted or ErrStopped.
func (t *Tracker) LogException(err error) error {
	if err == nil {
		return nil
	}
	r := t.run.Load()
	if r == nil {
		lerr := t.lifecycleErr()
		t.fallback(append(formatLine(nil, nil, time.Now(), slog.LevelError, err.Error(), nil, nil), '\n'), lerr)
		return fmt.Errorf("%w (%w)", err, lerr)
	}
	r.fail(context.Background(), err)
	return err
}

// fail records err as the run's failure: an ERROR line, an exception event
// on the run span, and the first failure kept for Stop.
func (r *run) fail(ctx context.Context, err error) {
	r.failMu.Lock()
	if r.failure == nil {
		r.failure = err
	}
	r.failMu.Unlock()
	r.recordError(ctx, err.Error(), err)
}

// recordError writes an ERROR line for err (with the stack of a panic) and
// adds an exception event to the run span while it has room.
func (r *run) recordError(ctx context.Context, msg string, err error) {
	stack := panicStack(err)
	r.emit(ctx, slog.LevelError, time.Now(), msg, nil, nil, nil, stack, false)
	if !r.takeRunSlot(false) {
		r.excDropped.Add(1)
		return
	}
	errtype.AddException(r.span, err, panicStack(err))
}

// The run span holds its start and stop events, log events and exception
// events. The SDK's default limit is 128 events a span, past which it drops
// the oldest (start first) and copies the whole list on every add. So the
// run span takes at most runSpanSlots log and exception events, of which at
// most runSpanLogs log events: whatever the budget, at least
// runSpanSlots-runSpanLogs exceptions always fit beside start and stop.
const (
	runSpanSlots = 128 - 2
	runSpanLogs  = runSpanSlots - 16
)

// takeRunSlot reserves room for one more event on the run span, a log
// event or an exception. It reports false when there is none.
func (r *run) takeRunSlot(log bool) bool {
	// A run whose budget is below the cap (the default) cannot add more
	// log events than the cap, and needs no count of them.
	if log && r.budget > runSpanLogs && r.runLogs.Add(1) > runSpanLogs {
		return false
	}
	return r.runSlots.Add(1) <= runSpanSlots
}

func panicStack(err error) []byte {
	var pe *PanicError
	if errors.As(err, &pe) {
		return pe.Stack
	}
	return nil
}

// Stop ends the run: it logs and prints "TOTAL SCRIPT TIME", syncs and
// closes the log, adds the stop event and ends the run span, flushes the
// tracer provider when it can (5 s at most), and settles the lock: removed
// after a run that succeeded; kept with status "failed" and the error after
// a run that failed (LogException was called, or a panic is in flight);
// kept with status "cancelled" after a run whose ctx was done, unless the
// stale policy is TakeOver.
//
// Deferred directly (defer t.Stop()), it records a panic in flight with its
// stack before letting it go on. It returns ErrNotStarted before Start,
// ErrStopped after Stop, or the errors of stopping itself (closing the log,
// writing the lock), joined.
func (t *Tracker) Stop() error {
	if v := recover(); v != nil {
		defer panic(v)
		if r := t.run.Load(); r != nil {
			r.fail(context.Background(), &PanicError{Value: v, Stack: debug.Stack()})
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.state.Load() {
	case stateNew:
		return ErrNotStarted
	case stateStopped:
		return ErrStopped
	}
	r := t.run.Load()
	r.failMu.Lock()
	failure := r.failure
	r.failMu.Unlock()

	outcome := outcomeOK
	switch {
	case failure != nil:
		outcome = outcomeFailed
	case r.ctx.Err() != nil:
		outcome = outcomeCancelled
		cause := context.Cause(r.ctx)
		r.emit(context.Background(), slog.LevelWarn, time.Now(), "Run cancelled: "+cause.Error(), nil, nil, nil, nil, true)
		failure = cause
	}

	end := time.Now()
	dur := end.Sub(r.started)
	r.emit(context.Background(), slog.LevelInfo, end, "TOTAL SCRIPT TIME: "+dur.String(), nil, nil, nil, nil, false)
	if _, err := fmt.Fprintf(t.cfg.output, "TOTAL SCRIPT TIME: %s\n", dur); err != nil {
		otel.Handle(fmt.Errorf("pigging: printing TOTAL SCRIPT TIME: %w", err))
	}

	t.state.Store(stateStopped)
	t.run.Store(nil)
	var errs []error
	if err := r.file.Sync(); err != nil {
		errs = append(errs, pathError("log", t.logPath, err))
	}
	if err := r.file.Close(); err != nil {
		errs = append(errs, pathError("log", t.logPath, err))
	}

	switch {
	case outcome == outcomeOK || outcome == outcomeCancelled && t.cfg.stale == TakeOver:
		if err := r.lock.release(); err != nil {
			errs = append(errs, pathError("lock", t.lockPath, err))
		}
	default:
		info := r.info
		info.Status = StatusFailed
		if outcome == outcomeCancelled {
			info.Status = StatusCancelled
		}
		info.Error = failure.Error()
		if err := r.lock.keep(&info); err != nil {
			errs = append(errs, pathError("lock", t.lockPath, err))
		}
	}

	stopAttrs := []attribute.KeyValue{keyDurationMS.Int64(dur.Milliseconds()), keyStatus.String(outcome)}
	r.span.AddEvent("stop", trace.WithTimestamp(end), trace.WithAttributes(stopAttrs...))
	if dropped := max(r.events.Load()-int64(t.cfg.eventBudget), 0) + r.capped.Load(); dropped > 0 {
		r.span.SetAttributes(keyEventsDropped.Int64(dropped))
	}
	if n := r.excDropped.Load(); n > 0 {
		r.span.SetAttributes(keyExcDropped.Int64(n))
	}
	if outcome == outcomeFailed {
		r.span.SetAttributes(errtype.KeyErrorType.String(errtype.Of(failure)))
		r.span.SetStatus(codes.Error, failure.Error())
	}
	r.span.End(trace.WithTimestamp(end))
	t.flush()
	return errors.Join(errs...)
}

// flush asks the tracer provider to export what it holds, when it can, and
// waits at most flushTimeout.
func (t *Tracker) flush() {
	f, ok := t.cfg.provider.(interface{ ForceFlush(context.Context) error })
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := f.ForceFlush(ctx); err != nil {
		otel.Handle(fmt.Errorf("pigging: flushing spans: %w", err))
	}
}

// Logger returns a *slog.Logger that writes to the run's log file and adds
// log events to the span in the ctx given to its *Context methods (a stage
// span) or to the run span. Records carry "stage=<name>" when that ctx is
// inside a middleware stage. The Logger may be taken before Start; records
// logged outside a run go to stderr.
func (t *Tracker) Logger() *slog.Logger { return t.logger }

// hook gives the middleware what it needs of a run.
type hook struct{ t *Tracker }

var _ runctx.Run = hook{}

func (h hook) TracerProvider() trace.TracerProvider { return h.t.cfg.provider }

func (h hook) LogAttrs(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	level = standardLevel(level)
	if level < h.t.cfg.minLevel.Level() {
		return
	}
	r := h.t.run.Load()
	var line [stackLine]byte // as in Tracker.log
	if r != nil {
		r.emit(ctx, level, wallclock.Now(), msg, line[:0], attrs, nil, nil, true)
	} else {
		h.t.fallback(append(formatLine(line[:0], attrs, time.Now(), level, msg, nil, runctx.StageFrom(ctx)), '\n'), h.t.lifecycleErr())
	}
}

func (h hook) LogError(ctx context.Context, msg string, err error, attrs ...slog.Attr) {
	if r := h.t.run.Load(); r != nil {
		r.emit(ctx, slog.LevelError, time.Now(), msg, nil, attrs, nil, panicStack(err), true)
	} else {
		line := formatLine(nil, attrs, time.Now(), slog.LevelError, msg, nil, runctx.StageFrom(ctx))
		line = logfmt.AppendStack(line, string(panicStack(err)))
		h.t.fallback(append(line, '\n'), h.t.lifecycleErr())
	}
}

// String describes the Tracker for debugging.
func (t *Tracker) String() string {
	return "pigging.Tracker{job=" + strconv.Quote(t.cfg.name) + " log=" + strconv.Quote(t.logPath) + " lock=" + strconv.Quote(t.lockPath) + "}"
}
