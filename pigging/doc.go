// Package pigging keeps a batch or ETL job honest: one run at a time (a
// lock file), one readable log of the latest run (a log file truncated at
// each start), and an OpenTelemetry span of every run.
//
//	import "github.com/pigging-go/pigging/pigging"
//
// Its companions are github.com/pigging-go/pigging/middleware (stage
// wrappers) and github.com/pigging-go/pigging/otelpig (SDK setup).
//
// # Lifecycle
//
// A Tracker is made with New, which only checks its arguments, and used for
// one run:
//
//	t, err := pigging.New("etl.log", "etl.lock", pigging.WithName("nightly"))
//	ctx, err = t.Start(ctx) // lock, run span, fresh log, timer
//	defer t.Stop()          // TOTAL SCRIPT TIME; lock removed, or kept after a failure
//	t.Info("loaded", "rows", n)
//	if err := load(ctx); err != nil {
//		return t.LogException(err) // the run fails: the lock stays
//	}
//
// Run does all of that around a function, with a ctx cancelled on SIGINT
// and SIGTERM and panics turned into *PanicError values. A deferred Stop
// also records a panic in flight before letting it go on.
//
// # Locking
//
// Start takes an OS lock on the lock file (github.com/gofrs/flock) without
// waiting, and writes JSON about the holder into it: pid, host, job, start
// time, trace and span ids, status, log path. The kernel releases the OS
// lock when the process dies, so a held lock always means a live run: Start
// returns a *LockError that unwraps to ErrLocked and names it. A run also
// holds an OS lock on its log file, so that a second run is refused even
// when someone removed or replaced the lock file by hand; the holder's Stop
// then returns an error wrapping ErrLockLost, and a Start that finds the
// log named in the lock file held is refused as by a live run. Every write
// of the lock file is atomic (a new file, synced, renamed over the path,
// the directory synced): the file is always a whole JSON document.
// LogException writes the failure into it at once. Lock files are written
// with room to spare (spaces after the JSON), so that on a full disk,
// where no new file can be made, a run's failure is written over the file
// itself, its error cut to fit.
//
// A run that succeeds removes the file. A run that fails (LogException was
// called, Run's function returned an error or panicked) keeps it, with
// status "failure" and the error; a cancelled run keeps it with status
// "cancellation" (or "timeout" past its ctx's deadline); a run that dies
// leaves status "running". The next Start finds
// such a stale file and, by default, refuses with ErrStaleLock, so that a
// person reads the log the file names before the job runs again, then
// clears it with "pigging unlock" or Unlock (ReadLock and "pigging status"
// only look, and never keep a run from starting). WithStaleLock(TakeOver) logs a WARN naming the previous run,
// keeps its log as "<log>.prev", and goes on.
//
// # Log file
//
// Each successful Start truncates the log. A record is one line:
//
//	2026-11-27 20:17:06.123 | INFO: Starting logging job=nightly trace_id=4bf92f3577b34da6a3ce929d0e0e4736
//	2026-11-27 20:17:07.002 | WARN: skipped rows rows=3 stage=clean
//	2026-11-27 20:17:07.011 | INFO: TOTAL SCRIPT TIME: 888ms
//
// The time is UTC with milliseconds; the level is DEBUG, INFO, WARN or
// ERROR; key=value pairs follow in logfmt, quoted when they hold spaces, '='
// or quotes. Control characters are escaped, so a record is always one line;
// only a panic's stack follows as continuation lines that start with a tab.
// Each record reaches the kernel with one write(2) on a file opened with
// O_APPEND, so a crash loses nothing already logged and concurrent records
// never interleave; ERROR records and Stop also fsync. A record that cannot
// be written (a full disk) goes to stderr, is counted, and fails the run
// (Stop returns a *LogWriteError); a record after a cut write starts on a
// line of its own. TOTAL SCRIPT TIME is always the last record: records
// logged once Stop began go to stderr. A refused Start appends one record
// and never truncates: WARN while the holder lives, "ERROR: Locked" after a
// failed or dead run. Symlinks, FIFOs, devices and hard-linked files are
// refused at either path, before anything could block; a job run as root
// also refuses files owned by other users and directories that other users
// could redirect (not owned by root, or writable by others without the
// sticky bit).
//
// Logger returns a *slog.Logger on the same file and spans, for code that
// takes a logger.
//
// # Span events
//
// Start begins the CI/CD semantic conventions' pipeline run span, of kind
// SERVER and named "RUN " and the job's name, "RUN etl" (attributes
// pigging.job, cicd.pipeline.name, cicd.pipeline.action.name RUN,
// cicd.pipeline.run.id, pigging.log.path, pigging.lock.path) from the TracerProvider given with WithTracerProvider,
// or the global one. Its events: "start"; "log" for each record
// (pigging.log.severity, pigging.log.message and the record's key/values)
// while the event budget lasts (WithEventBudget, default 100; past it
// records are counted in pigging.events.dropped); "exception" for
// LogException and panics; "stop" with pigging.duration_ms,
// cicd.pipeline.result, the run's RunState (success, failure, error,
// timeout, cancellation, or skip for a refused Start), which the run span
// also carries, and error.type when the run did not succeed. A failed
// run's span has status Error and error.type. A refused Start and a Start
// that finds a stale lock link to the trace named in the lock file. Stop
// force-flushes the tracer, meter and logger providers that have a
// ForceFlush method, side by side, within 5 s for the three together;
// otelpig's providers share that bound with their shutdown, so a
// collector that never answers costs a job 5 s, not twice that.
//
// Every event is first a log record, sent to the LoggerProvider
// (WithLoggerProvider); the span event is a view of it, which
// WithSpanEvents(false) turns off. Exceptions go where
// OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN says, on every path (LogException, a
// failed run, a failing middleware stage, a refused Start): span events by
// default, "exception" log records under "logs", both under "logs/dup".
//
// pigging takes the OpenTelemetry API only; set up the SDK in the program,
// for instance with the otelpig package.
package pigging
