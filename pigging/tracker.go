package pigging

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/runctx"
)

// ScopeName is the instrumentation scope of the spans, log records and
// metrics pigging makes: the package's import path.
const ScopeName = "github.com/pigging-go/pigging/pigging"

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
	keyLate          = attribute.Key("pigging.records.after_stop")
	keyLinkReason    = attribute.Key("pigging.link.reason")
	keyPrevStatus    = attribute.Key("pigging.previous.status")
	keyLogSeverity   = attribute.Key("pigging.log.severity")
	keyLogMessage    = attribute.Key("pigging.log.message")
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
// each. Every method is safe on a nil *Tracker (what FromContext returns
// outside a run): records then go to stderr in the log file's format.
type Tracker struct {
	logPath  string
	lockPath string
	cfg      config
	tracer   trace.Tracer
	logger   *slog.Logger
	locker   Locker
	tel      *telemetry

	mu      sync.Mutex // serialises Start and Stop
	state   atomic.Int32
	run     atomic.Pointer[run]
	managed bool         // made by Run, which stops it
	late    atomic.Int64 // records that arrived after Stop began
}

// run is the state of a started run.
type run struct {
	t      *Tracker
	file   *os.File
	span   trace.Span
	spanID trace.SpanID
	budget *eventBudget
	// recording caches whether span records: 0 not asked yet, 1 yes, 2 no.
	recording atomic.Int32

	// mu is held shared by each record as it is written, and alone by Stop
	// once it begins: a record is either in the log before TOTAL SCRIPT
	// TIME and counted in the outcome, or on stderr after it.
	mu      sync.RWMutex
	closing bool
	// torn says the last write to the log was cut short: the next record
	// starts with a newline so that it is never glued to the fragment.
	torn atomic.Bool
	lost atomic.Int64 // records that could not be written to the log

	failMu   sync.Mutex
	failure  error    // the run's first failure
	writeErr error    // the first error writing the log
	reported []report // errors already written in full
	marked   bool     // the lock file says failed already
	lockLost error    // how the run lost its lock, nil while it holds it

	lease   Lease
	logLock *flock.Flock
	done    chan struct{} // closed when Stop begins
	ctx     context.Context
	spanCtx context.Context // carries the run span, for pigging's own log records
	info    LockInfo
	started time.Time
	logAbs  string
}

// report is an error written in full to the log, and by what: a stage's
// name, or "" for the run itself.
type report struct {
	err   error
	stage string
}

// maxReports bounds the errors a run remembers having written.
const maxReports = 64

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
	cfg, err := newConfig(opts)
	if err != nil {
		errs = append(errs, err)
	}
	if lockPath == "" && cfg.locker == nil {
		errs = append(errs, &PathError{Op: "lock", Path: lockPath, Err: errEmptyPath})
	}
	if logPath != "" && lockPath != "" && sameFilePath(logPath, lockPath) {
		errs = append(errs, &PathError{Op: "lock", Path: lockPath, Err: errors.New("is the same file as the log path; give the lock its own file")})
	}
	if logPath != "" && lockPath != "" && sameFilePath(logPath+".prev", lockPath) {
		errs = append(errs, &PathError{Op: "lock", Path: lockPath, Err: errors.New("is where TakeOver keeps the previous run's log; give the lock a file of its own")})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t := &Tracker{
		logPath:  logPath,
		lockPath: lockPath,
		cfg:      cfg,
		tracer:   cfg.provider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version()), trace.WithSchemaURL(semconv.SchemaURL)),
		locker:   cfg.locker,
		tel:      newTelemetry(&cfg),
	}
	if t.locker == nil {
		t.locker = NewFileLocker(lockPath, cfg.fileMode)
	}
	t.logger = slog.New(&handler{t: t})
	return t, nil
}

// FromContext returns the Tracker that Start put in ctx, or nil. Every
// method of a nil Tracker is safe to call, so
// pigging.FromContext(ctx).Logger() works inside and outside a run.
func FromContext(ctx context.Context) *Tracker {
	if ctx == nil {
		return nil
	}
	t, _ := ctx.Value(trackerKey{}).(*Tracker)
	return t
}

// Job returns the job's name, or "" for a nil Tracker.
func (t *Tracker) Job() string {
	if t == nil {
		return ""
	}
	return t.cfg.name
}

// LogPath returns the path of the log file as given to New.
func (t *Tracker) LogPath() string {
	if t == nil {
		return ""
	}
	return t.logPath
}

// LockPath returns the path of the lock file as given to New.
func (t *Tracker) LockPath() string {
	if t == nil {
		return ""
	}
	return t.lockPath
}

// Start begins the run: it takes the lock without waiting, starts the run
// span as a child of the span in ctx, writes the holder's details into the
// lock file, starts a fresh log file and the timer. It returns a ctx that
// carries the run span and the Tracker. The paths are made absolute here,
// so a later os.Chdir does not move the run's files.
//
// When another process holds the lock, or the run the lock file names is
// still alive (it holds the log the file names, as after the file was
// replaced under it), Start returns a *LockError that unwraps to
// ErrLocked; when a previous run left it (failed, cancelled or
// died) and the policy is Refuse, one that unwraps to ErrStaleLock. A
// refused Start appends one record to the existing log without truncating
// it (WARN while the holder lives, ERROR after a failed or dead run),
// leaves a short span with the reason, and leaves the Tracker unstarted so
// that Start may be tried again. A bad path gives a *PathError, and a Start
// that fails leaves no file it created. Start after Start returns
// ErrAlreadyStarted, after Stop ErrStopped. On any error the returned ctx
// is the one given.
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
	logAbs, err := t.logAbs()
	if err != nil {
		return ctx, err
	}
	if err := checkPath("log", t.logPath, logAbs); err != nil {
		return ctx, err
	}
	if _, file := t.locker.(*fileLocker); file && t.lockPath != "" {
		if lockAbs, err := filepath.Abs(t.lockPath); err == nil && sameFileOnDisk(logAbs, lockAbs) {
			return ctx, &PathError{Op: "lock", Path: t.lockPath, Err: errors.New("is the same file as the log path " + t.logPath + "; give the lock its own file")}
		}
	}

	now := time.Now()
	host, _ := os.Hostname()
	info := LockInfo{
		PID:     os.Getpid(),
		Host:    host,
		Job:     t.cfg.name,
		Started: now.UTC(),
		Status:  StatusRunning,
		Log:     logAbs,
	}
	lctx, cancel := lockContext(ctx)
	defer cancel()
	res, err := t.locker.Acquire(lctx, &info)
	if err != nil {
		return ctx, err
	}
	lockName := t.locker.String()
	_, fileLock := t.locker.(*fileLocker)
	if res.Lease == nil {
		return ctx, t.refuse(ctx, &LockError{Path: lockName, LogPath: t.logPath, Holder: res.Holder, Err: ErrLocked, Detail: res.Detail, fileLock: fileLock})
	}
	// The lock is ours, but the run the file names may still be alive: a
	// lock file replaced under a live run (an editor's save, a restore)
	// names it, and it holds its log until it stops. Whatever log this run
	// was given, that run is in progress.
	if h := res.Holder; res.Stale && holderLogHeld(h) {
		lerr := &LockError{Path: lockName, LogPath: t.logPath, Holder: h, Err: ErrLocked,
			Detail: "its log file " + h.Log + " is held by a live run whose lock file was replaced", fileLock: fileLock}
		return ctx, t.abortAndRefuse(ctx, lctx, res.Lease, lerr)
	}
	// A live run may still hold this run's log, when its own lock file was
	// removed or replaced by hand: it is not ours to truncate.
	if logHeld(logAbs) {
		holder := res.Holder
		if holder != nil && holder.Status != StatusRunning {
			holder = nil
		}
		lerr := &LockError{Path: lockName, LogPath: t.logPath, Holder: holder, Err: ErrLocked,
			Detail: "its log file is held by a live run whose lock was removed or replaced", fileLock: fileLock}
		return ctx, t.abortAndRefuse(ctx, lctx, res.Lease, lerr)
	}
	if res.Stale && t.cfg.stale == Refuse {
		lerr := &LockError{Path: lockName, LogPath: t.logPath, Holder: res.Holder, Err: ErrStaleLock, Detail: res.Detail, fileLock: fileLock}
		return ctx, t.abortAndRefuse(ctx, lctx, res.Lease, lerr)
	}

	startOpts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(now),
		trace.WithAttributes(t.spanAttrs()...),
	}
	if res.Stale {
		if l, ok := holderLink(res.Holder, "took over stale lock"); ok {
			startOpts = append(startOpts, trace.WithLinks(l))
		}
	}
	runCtx, span := t.tracer.Start(ctx, t.cfg.name, startOpts...)
	sc := span.SpanContext()
	r := &run{
		spanCtx: trace.ContextWithSpan(context.Background(), span),
		t:       t,
		span:    span,
		spanID:  sc.SpanID(),
		budget:  newEventBudget(t.cfg.eventBudget),
		lease:   res.Lease,
		done:    make(chan struct{}),
		ctx:     ctx,
		started: now,
		info:    info,
		logAbs:  logAbs,
	}
	if sc.IsValid() {
		r.info.TraceID = sc.TraceID().String()
		r.info.SpanID = sc.SpanID().String()
	}
	fail := func(err error) (context.Context, error) {
		err = errors.Join(err, res.Lease.Abort(lctx))
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return ctx, err
	}
	if r.info.TraceID != "" || res.Stale {
		if err := res.Lease.Update(lctx, &r.info); err != nil {
			return fail(relabel(pathError("lock", lockName, err), lockName))
		}
	}
	prevLog := ""
	if res.Stale {
		prevLog = t.logPath + ".prev"
		if err := os.Rename(logAbs, logAbs+".prev"); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return fail(pathError("log", t.logPath, fmt.Errorf("keeping the previous run's log as %s: %w", prevLog, err)))
			}
			prevLog = ""
		}
	}
	f, logLock, err := openLog(logAbs, t.cfg.fileMode)
	if err != nil {
		return fail(relabel(err, t.logPath))
	}
	r.file, r.logLock = f, logLock
	t.run.Store(r)
	t.state.Store(stateStarted)
	t.tel.runStarted(r.spanCtx, t.cfg.name, now)

	span.AddEvent("start", trace.WithTimestamp(now), trace.WithAttributes(
		attribute.Int("process.pid", r.info.PID),
		attribute.String("host.name", host),
	))
	header := []slog.Attr{slog.String("job", t.cfg.name)}
	if sc.IsValid() {
		header = append(header, slog.String("trace_id", r.info.TraceID))
	}
	t.emit(&record{time: now, level: slog.LevelInfo, msg: "Starting logging", own: true, eventName: eventRunStart}, fields{attrs: header})
	if res.Stale {
		t.emit(&record{time: time.Now(), level: slog.LevelWarn, msg: "Took over a stale lock: " + staleText(res.Holder, res.Detail), own: true, event: true},
			fields{attrs: takeOverAttrs(res.Holder, prevLog)})
	}
	if lost := res.Lease.Lost(); lost != nil {
		var cancel context.CancelCauseFunc
		runCtx, cancel = context.WithCancelCause(runCtx)
		go r.watchLost(lost, cancel)
	}

	runCtx = context.WithValue(runCtx, trackerKey{}, t)
	runCtx = runctx.WithRun(runCtx, hook{t})
	return runCtx, nil
}

// logAbs returns the log path made absolute.
func (t *Tracker) logAbs() (string, error) {
	abs, err := filepath.Abs(t.logPath)
	if err != nil {
		return "", &PathError{Op: "log", Path: t.logPath, Err: err}
	}
	return abs, nil
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

// openLog opens the log at path for a fresh run: created when missing,
// refused unless it is a regular file with one name (and, for a job run as
// root, owned by root), then truncated, and locked for the run's lifetime
// so that another run never truncates it. It never blocks on a FIFO.
func openLog(path string, mode fs.FileMode) (*os.File, *flock.Flock, error) {
	f, err := openRegular(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, mode)
	if err != nil {
		return nil, nil, err
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY|oNoFollow|oNonblock))
	ok, err := fl.TryLock()
	for start := time.Now(); err == nil && !ok && time.Since(start) < lettingGoFor && sharedFree(path); {
		// Only a check whether a run holds it (logHeld, from a Start or
		// an inspection) has it, for a moment.
		time.Sleep(time.Millisecond)
		ok, err = fl.TryLock()
	}
	if err == nil && !ok {
		err = errors.New("is held by another run")
	}
	if err == nil {
		var a, b fs.FileInfo
		if a, err = fl.Stat(); err == nil {
			if b, err = f.Stat(); err == nil && !os.SameFile(a, b) {
				err = errors.New("was replaced while this run opened it")
			}
		}
	}
	if err == nil {
		err = f.Truncate(0)
	}
	if err != nil {
		_ = fl.Unlock()
		_ = f.Close()
		return nil, nil, pathError("log", path, err)
	}
	return f, fl, nil
}

// openRegular opens path with flag (O_NOFOLLOW and O_NONBLOCK added) and
// refuses anything but a regular file with one name, owned by root when
// the job runs as root, before any call that could block or write.
func openRegular(path string, flag int, mode fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|oNoFollow|oNonblock, mode)
	if err != nil {
		return nil, pathError("log", path, err)
	}
	fi, err := f.Stat()
	if err == nil {
		switch {
		case !fi.Mode().IsRegular():
			err = errNotFile
		default:
			err = errors.Join(nlinkErr(fi), ownerErr(fi))
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, pathError("log", path, err)
	}
	return f, nil
}

// relabel makes a *PathError about an absolute path name the path as the
// user gave it.
func relabel(err error, given string) error {
	var pe *PathError
	if errors.As(err, &pe) {
		pe.Path = given
	}
	return err
}

func (t *Tracker) spanAttrs() []attribute.KeyValue {
	return []attribute.KeyValue{
		keyJob.String(t.cfg.name),
		keyLogPath.String(t.logPath),
		keyLockPath.String(t.locker.String()),
		semconv.ProcessPID(os.Getpid()),
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
	return attrs
}

// abortAndRefuse lets go of a lock taken only to find that the run must
// be refused, then refuses it; a failure to let go is joined to lerr.
func (t *Tracker) abortAndRefuse(ctx, lctx context.Context, lease Lease, lerr *LockError) error {
	if err := lease.Abort(lctx); err != nil {
		return errors.Join(lerr, err)
	}
	return t.refuse(ctx, lerr)
}

// refuse records a Start that may not go on: one record appended to the
// existing log, and a short span saying who holds the lock. While the
// holder lives the record is a WARN (the overlap is worth knowing, but it
// is not the live run's failure); after a failed or dead run, an ERROR.
func (t *Tracker) refuse(ctx context.Context, lerr *LockError) error {
	if a, ok := t.locker.(ClearAdvisor); ok {
		lerr.advice = a.ClearAdvice()
	}
	now := time.Now()
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(now),
		trace.WithAttributes(t.spanAttrs()...),
	}
	reason, metricReason := "lock held", "held"
	if lerr.Err == ErrStaleLock {
		reason, metricReason = "stale lock", "stale"
	}
	if l, ok := holderLink(lerr.Holder, reason); ok {
		opts = append(opts, trace.WithLinks(l))
	}
	_, span := t.tracer.Start(ctx, t.cfg.name, opts...)
	span.AddEvent("start", trace.WithTimestamp(now), trace.WithAttributes(attribute.Int("process.pid", os.Getpid())))
	msg := lerr.Error()
	errtype.AddException(span, lerr, nil)

	rec := record{time: time.Now(), level: slog.LevelError, msg: "Locked: " + strings.TrimPrefix(msg, "pigging: "), own: true}
	if lerr.Err == ErrLocked {
		rec.level = slog.LevelWarn
		rec.msg = "Refused a second run (pid " + strconv.Itoa(os.Getpid()) + "): " + strings.TrimPrefix(msg, "pigging: ")
	}
	f := fields{attrs: []slog.Attr{slog.String("lock", t.locker.String())}}
	if lerr.Holder != nil {
		f.attrs = append(f.attrs, slog.Int("holder_pid", lerr.Holder.PID))
	}
	line := rec.format(nil, nil, f)
	errs := []error{lerr}
	if logAbs, err := t.logAbs(); err != nil {
		errs = append(errs, err)
	} else if err := appendToLog(logAbs, t.cfg.fileMode, line); err != nil {
		errs = append(errs, relabel(err, t.logPath))
		t.toStderr(line, err)
	}

	end := time.Now()
	span.AddEvent("stop", trace.WithTimestamp(end), trace.WithAttributes(keyDurationMS.Int64(end.Sub(now).Milliseconds()), keyStatus.String(outcomeLocked)))
	span.SetAttributes(errtype.KeyErrorType.String(errtype.Of(lerr)), keyRunResult.String(resultLocked))
	span.SetStatus(codes.Error, msg)
	span.End(trace.WithTimestamp(end))
	mctx := trace.ContextWithSpan(context.WithoutCancel(ctx), span)
	t.tel.refused(mctx, t.cfg.name, metricReason)
	t.flush()
	return errors.Join(errs...)
}

// appendToLog appends line to the log at path, creating it if needed, and
// syncs it. It never truncates; when the log ends in a cut record, line
// starts on a line of its own.
func appendToLog(path string, mode fs.FileMode, line []byte) error {
	f, err := openRegular(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, mode)
	if err != nil {
		return err
	}
	if endsCut(f) {
		line = append([]byte{'\n'}, line...)
	}
	_, err = f.Write(line)
	return errors.Join(err, f.Sync(), f.Close())
}

// endsCut reports whether the file ends in a cut record (no final
// newline). A run may truncate and rewrite the file meanwhile: when its
// size changed while the last byte was read, the answer is no, so that a
// refusal racing a fresh start never adds an empty line.
func endsCut(f *os.File) bool {
	before, err := f.Stat()
	if err != nil || before.Size() == 0 {
		return false
	}
	var last [1]byte
	if n, _ := f.ReadAt(last[:], before.Size()-1); n != 1 || last[0] == '\n' {
		return false
	}
	after, err := f.Stat()
	return err == nil && after.Size() == before.Size()
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
		ev := getEventScratch(rec.level, rec.msg)
		err = r.writeLine(rec.format(buf[:1], &ev.kvs, f), rec.level)
		if logOn {
			r.t.tel.emitLog(logCtx, rec, ev.kvs[2:], r.t.cfg.name)
		}
		if span != nil {
			ev.add(span)
		} else {
			ev.put()
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

// writeLine writes the record b, whose first byte is a spare newline, with
// one write(2), and syncs the file after an ERROR record. The spare newline
// is written only after a write was cut short (a full disk), so that a
// record never continues a fragment. A record that cannot be written is
// counted, makes the run fail at Stop, and goes to stderr.
func (r *run) writeLine(b []byte, level slog.Level) error {
	afterTorn := r.torn.Load() && r.torn.CompareAndSwap(true, false)
	if !afterTorn {
		b = b[1:]
	}
	n, err := r.file.Write(b)
	if err == nil && level >= slog.LevelError {
		err = r.file.Sync()
	}
	if err != nil {
		if n < len(b) && (n > 0 || afterTorn) {
			r.torn.Store(true)
		}
		r.lost.Add(1)
		r.failMu.Lock()
		if r.writeErr == nil {
			r.writeErr = err
		}
		r.failMu.Unlock()
		writeStderrLine(r.t.logPath, bytesTrimNL(b), err)
	}
	return err
}

// bytesTrimNL returns b without a leading spare newline.
func bytesTrimNL(b []byte) []byte {
	if len(b) > 0 && b[0] == '\n' {
		return b[1:]
	}
	return b
}

func (t *Tracker) lifecycleErr() error {
	if t.state.Load() == stateStopped {
		return ErrStopped
	}
	return ErrNotStarted
}

// Reasons a record goes to stderr, besides the lifecycle errors.
var (
	errNoTracker = errors.New("no pigging.Tracker in this context")
	errAfterStop = errors.New("logged after Stop began")
)

// writeStderr writes a record that cannot reach a log file to stderr, in
// the log file's format, saying why.
func writeStderr(logPath string, rec *record, f fields, why error) {
	r := *rec
	if r.time.IsZero() {
		r.time = time.Now()
	}
	var buf [stackLine]byte
	writeStderrLine(logPath, r.format(buf[:0], nil, f), why)
}

func writeStderrLine(logPath string, line []byte, why error) {
	msg := make([]byte, 0, len(line)+96)
	msg = append(msg, "pigging: "...)
	if logPath != "" {
		msg = append(msg, "not written to "...)
		msg = append(msg, logPath...)
		msg = append(msg, " ("...)
		msg = append(msg, why.Error()...)
		msg = append(msg, "): "...)
	} else {
		msg = append(msg, why.Error()...)
		msg = append(msg, ": "...)
	}
	msg = append(msg, line...)
	os.Stderr.Write(msg)
}

// toStderr is writeStderrLine for the Tracker's log.
func (t *Tracker) toStderr(line []byte, why error) { writeStderrLine(t.logPath, line, why) }

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

// eventSpan counts the log event of a record logged with ctx (nil for the
// run itself) and returns the span it goes on: the span in ctx when that
// records, or else the run span. It returns nil when the record adds no
// event: no span records, the event budget is spent (the event is only
// counted then), or the run span has no room left.
func (r *run) eventSpan(ctx context.Context) trace.Span {
	if r.budget.spent() {
		// Only counted, when a span records; the run span is asked
		// first, as it needs no lock.
		if r.spanRecording() || ctx != nil && trace.SpanFromContext(ctx).IsRecording() {
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
	if !r.spanRecording() || !r.budget.takeLog(true) {
		return nil
	}
	return r.span
}

// setFailure keeps err as the run's failure unless it has one already.
func (r *run) setFailure(err error) {
	r.failMu.Lock()
	if r.failure == nil {
		r.failure = err
	}
	r.failMu.Unlock()
}

// markFailed writes the run's failure into the lock file at once, so that
// a process that exits right after LogException, without Stop, still
// leaves "failed" and the error for the next run to find. Only the first
// failure is written. The caller holds r.mu.
func (r *run) markFailed() {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	if r.marked || r.failure == nil {
		return
	}
	r.marked = true
	info := r.info
	info.Status = StatusFailed
	info.Error = errtype.Message(r.failure)
	ctx, cancel := lockContext(r.ctx)
	defer cancel()
	if err := r.lease.Update(ctx, &info); err != nil {
		if errors.Is(err, ErrLockLost) {
			r.lockLost = err
			return
		}
		otel.Handle(fmt.Errorf("pigging: writing the failure into %s: %w", r.t.locker, err))
	}
}

// noteReport remembers that err was written in full, by stage ("" for the
// run), so that the run does not write it again.
func (r *run) noteReport(err error, stage string) {
	r.failMu.Lock()
	if len(r.reported) < maxReports {
		r.reported = append(r.reported, report{err: err, stage: stage})
	}
	r.failMu.Unlock()
}

// reportOf returns how err was written already: found, and the stage that
// wrote it ("" when the run did, through LogException).
func (r *run) reportOf(err error) (stage string, found bool) {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	for _, rp := range r.reported {
		if isErr(err, rp.err) {
			return rp.stage, true
		}
	}
	return "", false
}

// isErr is errors.Is that never panics on an Unwrap or Is method that does.
func isErr(err, target error) (is bool) {
	defer func() {
		if recover() != nil {
			is = false
		}
	}()
	return errors.Is(err, target)
}

// LogException logs err at ERROR (with its stack when it is a
// *PanicError), marks the run failed and writes that into the lock file at
// once (so it is kept even if the process exits without Stop), adds an
// exception event to the run span, and returns err unchanged so that
// "return t.LogException(err)" reads naturally. A nil err is ignored.
//
// An error is written in full once: when a middleware stage has logged err
// already (or an error it wraps), the record only names the stage and
// points to its record above, and the exception event stays on the stage's
// span; the same err given twice is written once. Before Start or after
// Stop began it writes the record to stderr and returns err joined with
// ErrNotStarted or ErrStopped. A broken err (a typed nil, an Error method
// that panics) is recorded with a readable stand-in, never a crash.
func (t *Tracker) LogException(err error) error {
	if err == nil {
		return nil
	}
	rec := record{time: time.Now(), level: slog.LevelError, msg: errtype.Message(err), stack: panicStack(err),
		own: true, failure: err, exception: true}
	if r := t.currentRun(); r != nil {
		if stage, found := r.reportOf(err); found {
			if stage == "" {
				r.setFailure(err) // written already by the run itself
				return err
			}
			rec.msg = "Run failed: " + stage + " failed; its error is logged above"
			rec.stack, rec.exception = nil, false
		} else {
			r.noteReport(err, "")
		}
	}
	if lerr := t.emit(&rec, fields{}); errors.Is(lerr, ErrNotStarted) || errors.Is(lerr, ErrStopped) {
		return fmt.Errorf("%w (%w)", err, lerr)
	}
	return err
}

// currentRun returns the run in progress, or nil.
func (t *Tracker) currentRun() *run {
	if t == nil {
		return nil
	}
	return t.run.Load()
}

// panicStack returns the stack of the panic err is or wraps, or nil. It
// never panics on a broken error in the chain.
func panicStack(err error) []byte {
	if pe, ok := errtype.As[*PanicError](err); ok && pe != nil {
		return pe.Stack
	}
	return nil
}

// errStopInRun is what Stop returns for a Tracker that Run made.
var errStopInRun = errors.New("pigging: Stop called inside Run's function: Run stops the run when the function returns; return from it instead")

// Stop ends the run. In order: it waits for records being written and
// sends later ones to stderr (counted in pigging.records.after_stop); logs
// "TOTAL SCRIPT TIME" as the log's last record; syncs and closes the log;
// settles the lock file — removed after a run that succeeded; kept with
// status "failed" and the error after a run that failed (LogException was
// called, a panic is in flight, records could not be written, or the lock
// file was removed or replaced under the run); kept with status
// "cancelled" after a run whose ctx was done, unless the stale policy is
// TakeOver; then ends the run span, prints "TOTAL SCRIPT TIME" to the
// output (a closed stdout never kills the process here), and flushes the
// tracer provider when it can (5 s at most).
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
	return t.stop(true)
}

func (t *Tracker) stop(flush bool) error {
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
	var errs []error
	r.failMu.Lock()
	failure, lockLost := r.failure, r.lockLost
	r.failMu.Unlock()
	if lockLost == nil {
		lockLost = r.lease.Check(lctx)
	}
	if lerr := lockLost; lerr != nil {
		errs = append(errs, lerr)
		if !errors.Is(failure, ErrLockLost) {
			r.record(&record{time: time.Now(), level: slog.LevelError, own: true,
				msg: "Lost the lock " + t.locker.String() + " during the run (" + errtype.Message(lerr) + "): another run may have started beside this one"}, fields{})
		}
		if failure == nil {
			failure = lerr
		}
	}
	outcome := outcomeOK
	switch {
	case failure != nil:
		outcome = outcomeFailed
	case r.lost.Load() > 0:
		outcome = outcomeFailed
	case r.ctx.Err() != nil:
		outcome = outcomeCancelled
		failure = context.Cause(r.ctx)
		r.record(&record{time: time.Now(), level: slog.LevelWarn, msg: "Run cancelled: " + errtype.Message(failure), own: true, event: true}, fields{})
	}
	end := time.Now()
	dur := end.Sub(r.started)
	total := "TOTAL SCRIPT TIME: " + dur.String()
	result := runResult(outcome)
	r.record(&record{time: end, level: slog.LevelInfo, msg: total, own: true, eventName: eventRunStop,
		otelAttrs: []attribute.KeyValue{keyRunResult.String(result), keyDurationMS.Int64(dur.Milliseconds())}}, fields{})
	if n := r.lost.Load(); n > 0 {
		r.failMu.Lock()
		writeErr := r.writeErr
		r.failMu.Unlock()
		werr := &LogWriteError{Path: t.logPath, Lost: n, Err: writeErr}
		errs = append(errs, werr)
		if failure == nil {
			failure = werr
			outcome = outcomeFailed
		}
	}
	r.closing = true
	if err := r.file.Sync(); err != nil {
		errs = append(errs, pathError("log", t.logPath, err))
	}
	if err := r.file.Close(); err != nil {
		errs = append(errs, pathError("log", t.logPath, err))
	}
	r.mu.Unlock()
	t.state.Store(stateStopped)
	t.run.Store(nil)

	// The log's lock first: whoever takes the lock file next must find
	// the log free.
	if err := r.logLock.Unlock(); err != nil {
		errs = append(errs, pathError("log", t.logPath, err))
	}
	// The lock file is settled before anything is printed.
	if err := r.settle(lctx, outcome, failure); err != nil {
		errs = append(errs, pathError("lock", t.locker.String(), err))
	}

	r.span.AddEvent("stop", trace.WithTimestamp(end), trace.WithAttributes(keyDurationMS.Int64(dur.Milliseconds()), keyStatus.String(outcome)))
	logsDropped, excDropped := r.budget.dropped()
	if logsDropped > 0 {
		r.span.SetAttributes(keyEventsDropped.Int64(logsDropped))
	}
	if excDropped > 0 {
		r.span.SetAttributes(keyExcDropped.Int64(excDropped))
	}
	if n := t.late.Load(); n > 0 {
		r.span.SetAttributes(keyLate.Int64(n))
	}
	r.span.SetAttributes(keyRunResult.String(result))
	if outcome != outcomeOK {
		r.span.SetAttributes(errtype.KeyErrorType.String(errtype.Of(failure)))
		r.span.SetStatus(codes.Error, errtype.Message(failure))
	}
	r.span.End(trace.WithTimestamp(end))
	if outcome == outcomeOK {
		failure = nil
	}
	t.tel.runEnded(r.spanCtx, t.cfg.name, result, dur, end, failure)
	if err := writeIgnoringSIGPIPE(t.cfg.output, []byte(total+"\n")); err != nil {
		otel.Handle(fmt.Errorf("pigging: printing TOTAL SCRIPT TIME: %w", err))
	}
	if flush {
		t.flush()
	}
	return errors.Join(errs...)
}

// settle leaves the lock as the outcome says: released, or kept with the
// run's status and error.
func (r *run) settle(ctx context.Context, outcome string, failure error) error {
	if outcome == outcomeOK || outcome == outcomeCancelled && r.t.cfg.stale == TakeOver {
		return r.lease.Release(ctx)
	}
	info := r.info
	info.Status = StatusFailed
	if outcome == outcomeCancelled {
		info.Status = StatusCancelled
	}
	info.Error = errtype.Message(failure)
	return r.lease.Keep(ctx, &info)
}

// nilLogger is the Logger of a nil Tracker: records go to stderr.
var nilLogger = slog.New(&handler{})

// Logger returns a *slog.Logger that writes to the run's log file and adds
// log events to the span in the ctx given to its *Context methods (a stage
// span) or to the run span. Records carry "stage=<name>" when that ctx is
// inside a middleware stage. The Logger may be taken before Start; records
// logged outside a run, or by the Logger of a nil Tracker, go to stderr in
// the log file's format.
func (t *Tracker) Logger() *slog.Logger {
	if t == nil {
		return nilLogger
	}
	return t.logger
}

// String describes the Tracker for debugging.
func (t *Tracker) String() string {
	if t == nil {
		return "pigging.Tracker(nil)"
	}
	return "pigging.Tracker{job=" + strconv.Quote(t.cfg.name) + " log=" + strconv.Quote(t.logPath) + " lock=" + strconv.Quote(t.lockPath) + "}"
}

// runResult returns the pigging.run.result of an outcome.
func runResult(outcome string) string {
	switch outcome {
	case outcomeOK:
		return resultSuccess
	case outcomeCancelled:
		return resultCancellation
	case outcomeLocked:
		return resultLocked
	}
	return resultFailure
}
