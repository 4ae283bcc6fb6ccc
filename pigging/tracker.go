package pigging

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/semkeys"
)

// ScopeName is the instrumentation scope of the spans, log records and
// metrics pigging makes: the package's import path.
const ScopeName = "github.com/pigging-go/pigging/pigging"

// flushTimeout bounds the ForceFlush at the end of a run.
const flushTimeout = 5 * time.Second

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
	fileLock bool // locker is the lock file
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

	// mu is held shared by each record as it is written, and alone by Stop
	// once it begins: a record is either in the log before TOTAL SCRIPT
	// TIME and counted in the outcome, or on stderr after it.
	mu      sync.RWMutex
	closing bool
	// torn says the last write to the log was cut short: the next record
	// starts with a newline so that it is never glued to the fragment.
	torn atomic.Bool
	lost atomic.Int64 // records that could not be written to the log

	markMu   sync.Mutex // orders the writes of the run's state into the lock
	failMu   sync.Mutex
	failure  error    // the run's first failure
	writeErr error    // the first error writing the log
	reported []report // errors already written in full
	marked   bool     // the lock says the run failed already
	lockLost error    // how the run lost its lock, nil while it holds it

	lease   Lease
	logLock *flock.Flock
	done    chan struct{} // closed when Stop begins
	ctx     context.Context
	spanCtx context.Context // carries the run span, for pigging's own log records
	info    LockInfo
	started time.Time
	logAbs  string
	stages  stageTotals // what the run's stages counted, for its history entry
	history History     // where the run's entry goes; nil for none
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
	_, t.fileLock = t.locker.(*fileLocker)
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

// currentRun returns the run in progress, or nil.
func (t *Tracker) currentRun() *run {
	if t == nil {
		return nil
	}
	return t.run.Load()
}

func (t *Tracker) lifecycleErr() error {
	if t.state.Load() == stateStopped {
		return ErrStopped
	}
	return ErrNotStarted
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

// logAbs returns the log path made absolute.
func (t *Tracker) logAbs() (string, error) {
	abs, err := filepath.Abs(t.logPath)
	if err != nil {
		return "", &PathError{Op: "log", Path: t.logPath, Err: err}
	}
	return abs, nil
}

func (t *Tracker) spanAttrs() []attribute.KeyValue {
	return []attribute.KeyValue{
		semkeys.Job.String(t.cfg.name),
		semconv.CICDPipelineName(t.cfg.name),
		semconv.CICDPipelineActionNameRun,
		semkeys.LogPath.String(t.logPath),
		semkeys.LockPath.String(t.locker.String()),
		semconv.ProcessPID(os.Getpid()),
	}
}

// runID is the cicd.pipeline.run.id of the run whose span has sc: the
// span's id, unique to the run and the key to find its span in a trace
// store.
func runID(sc trace.SpanContext) attribute.KeyValue {
	return semconv.CICDPipelineRunID(sc.SpanID().String())
}
