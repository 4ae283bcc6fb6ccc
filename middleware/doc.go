// Package middleware wraps the stages of a batch or ETL job (extract,
// transform, load, and plain steps) so that each call is a span of the
// run's trace and a line of the run's log, and a failure or a panic in it
// is recorded and returned as an error.
//
//	import "github.com/pigging-go/pigging/middleware"
//
// # Stages
//
// Each wrapper takes a name and a function, and returns a function of the
// same signature; the type parameters are inferred:
//
//	extract := middleware.Extract("orders-csv", readOrders)   // func(ctx) ([]Order, error)
//	clean := middleware.Transform("clean", cleanOrders)        // func(ctx, []Order) ([]Order, error)
//	load := middleware.Load("warehouse", writeOrders,
//		middleware.WithRetry(3, time.Second))                  // func(ctx, []Customer) error
//	vacuum := middleware.Stage("vacuum", vacuumDB)             // func(ctx) error
//
// Wrap once, at start-up or in a package variable, and call the result as
// often as needed: the wrapper works out at wrap time what it can (span
// name, attributes, how to count records). The returned functions are safe
// for concurrent use when the wrapped functions are.
//
// # Spans
//
// A call starts a span, child of the span in ctx, named "extract <name>",
// "transform <name>", "load <name>" or "stage <name>", with the attributes
// pigging.stage.kind and pigging.stage.name, the ones given with
// WithAttributes, and pigging.timeout_ms when WithTimeout is set.
//
// The spans come from the Tracker's TracerProvider when ctx comes from a
// started pigging.Tracker (so the run and its stages form one trace), else
// from the provider given with WithTracerProvider, else from the global
// one. Without a Tracker in ctx the wrappers trace all the same and log
// nothing: they are usable in any program. A wrapper keeps the tracer of
// the last provider that is a pointer (the SDK's, the global one), so that
// a call does not ask for it again; the instrumentation scope is
// ScopeName.
//
// The stage's function gets a ctx that carries the stage span and, when
// the call is observed (ctx carries a Tracker, or the span records), the
// stage's name, so that a record logged with the Tracker's slog.Logger and
// that ctx,
//
//	t.Logger().InfoContext(ctx, "skipped rows", "rows", n)
//
// becomes a log event on the stage span and a line in the log file that
// ends with "stage=<name>". A call that is not observed does no more than
// start and end its span around the function.
//
// # Record counts
//
// When the input or the output is a collection, the stage span gets
// pigging.records.in or pigging.records.out: for a slice, an array, a map
// or a string, its length; for a type with a Len() int method, what that
// returns (a nil pointer is not counted). Extract counts its output, Load
// its input, Transform both. Common types are counted without reflection,
// the rest with one reflective call; a type that is no collection costs
// nothing.
//
// Sequences (iter.Seq and iter.Seq2) are lazy: their items exist only
// when someone ranges over them, so the middleware never buffers them to
// count, and counts them only where it knows their element type: in the
// Seq wrappers, whose type parameters are inferred from the function.
//
//	load := middleware.LoadSeq("warehouse", writeOrders)      // func(ctx, iter.Seq[Order]) error
//	read := middleware.LoadSeq2("warehouse", writeRows)       // func(ctx, iter.Seq2[Row, error]) error
//	total := middleware.TransformSeq("total", sumPerCustomer) // func(ctx, iter.Seq[Order]) (map[string]int, error)
//	parse := middleware.TransformSeq2("parse", parseLines)    // func(ctx, iter.Seq2[int, string]) ([]Row, error)
//
// They hand fn a sequence that counts the items fn pulls from the one
// given, and pigging.records.in is that count: each item handed over
// counts once (a pair of an iter.Seq2 is one item, an error pair
// included). Each range over it counts in a plain local and adds it to the
// stage's count once, when the range returns: at its end, when the loop
// stops early (the item it stopped on was handed over), when it panics,
// when a pull (iter.Pull) is stopped. A sequence ranged twice counts both
// ranges. With WithRetry, each attempt counts afresh and the stage reports
// the last attempt's count, not the sum of the attempts. Items pulled in a
// range that returns after fn did (a sequence fn returned lazily or kept,
// a range left running in a goroutine, a pull never stopped) are not the
// stage's: its span and line are done by then. A nil sequence is passed
// on as nil and not counted. Any element type is counted the same way, a
// job's own struct included: a few allocations per call and none per
// item; the count adds one function call and an increment per item (see
// docs/performance.md). A call that is not observed (no Tracker, a span
// that does not record) passes the sequence on as it is.
//
// Extract, Transform and Load pass a sequence on as it is and do not
// count it: a sequence returned by Extract or Transform produces its items
// after the stage's span has ended, so pigging.records.out is left out and
// the stage that consumes it counts them as its records in; one given to
// Transform or Load has no pigging.records.in there, and LoadSeq or
// TransformSeq is the wrapper that counts it.
//
// # Log lines
//
// When ctx carries a Tracker, a call that succeeds writes one INFO line
// with its duration and record counts:
//
//	2026-11-27 20:17:06.412 | INFO: transform clean done duration=12ms records_in=5000 records_out=4990 stage=clean
//
// A call that fails writes one ERROR line naming the stage, and a panic's
// stack follows it as tab-continued lines:
//
//	2026-11-27 20:17:07.010 | ERROR: load warehouse failed: connection refused duration=3.2s records_in=1200 stage=warehouse
//
// # Errors and panics
//
// The error from the stage's function is returned unchanged (the same
// value, so errors.Is and errors.As work as without the middleware), and
// recorded once on the trace, as the semantic conventions ask: an
// "exception" event with exception.type and exception.message on the span
// where it happened (the stage span, or with WithRetry the span of the
// attempt that returned it), and status Error with error.type on that span
// and on the stage span. Under OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN=logs the
// exception is an "exception" log record in that same span instead (the
// run's LoggerProvider inside a run, the global one outside; "logs/dup"
// sends both), as it is for the run's own exceptions. exception.type is
// the error's Go type with its package path ("*errors.errorString"). The
// stage's ERROR line is the one place the log writes it in full.
//
// A stage span is a CI/CD pipeline task run, as the semantic conventions
// say it: cicd.pipeline.task.name (the span's name),
// cicd.pipeline.task.run.id (its span id) and cicd.pipeline.task.run.result
// (success, failure, timeout or cancellation).
//
// An error is never asked for its text unguarded: a typed nil (an Error
// method that reads a field of a nil pointer) or an Error method that
// panics is recorded as "<nil *pkg.T>" or "!PANIC in pkg.T.Error: ...",
// and the job goes on.
//
// A panic in the stage's function is recovered and returned as a
// *PanicError holding the value and the full stack (debug.Stack); the
// exception event carries the stack as exception.stacktrace and the log
// line is followed by it. PanicError is pigging.PanicError, and unwraps to
// the panic value when that is an error.
//
// A failed stage does not fail the run by itself: the pipeline decides what
// a failure means. The run fails when the error reaches
// Tracker.LogException, or is returned from the function given to
// pigging.Run.
//
// Bad input never panics. A nil function, an empty name or an option out of
// range is reported when the stage is called, not when it is wrapped (the
// wrapper returns a function, not an error): every call then returns an
// error that wraps ErrNilFunc, ErrEmptyName or ErrInvalidOption and names
// the stage and the argument, without calling anything, and is recorded on
// a stage span and in the log like any other failure.
//
// # Cancellation
//
// A call whose ctx is done already (the run was cancelled, or its deadline
// passed) does not call its function: it returns at once an error for
// which errors.Is(err, ctx.Err()) holds, and errors.Is(err, cause) too
// when the ctx was cancelled with a cause (context.WithCancelCause). It
// makes no span, since nothing ran, and retries nothing. When ctx carries
// a Tracker, it logs one WARN record, also a log event of the span in ctx:
//
//	2026-11-27 20:17:08.001 | WARN: load warehouse not called: context canceled stage=warehouse
//
// A WARN, not an ERROR: the stage did not fail. The error reaches the run
// through the pipeline, and the run, cancelled, says so once.
//
// # Retries and timeouts
//
// WithRetry(attempts, backoff) makes a call try its function up to attempts
// times in all. Each try is a child span of the stage span, named
// "attempt <n>", with pigging.attempt = n; a failed try has the exception
// event, error.type and status Error, and, when it will be retried, logs
// a WARN line. The stage span of a call whose last try failed has
// error.type and status Error, not a second exception event.
// Before try n the call waits a random time in [0, backoff·2^(n-2)], capped
// at MaxBackoff (30 s): exponential backoff with full jitter. A panic is
// not retried. The stage span gets pigging.attempts, the number of tries
// made. When retries run out, the last try's error is returned unchanged.
// When ctx ends during a wait, the call returns at once with an error for
// which both errors.Is(err, ctx.Err()) and errors.Is(err, lastErr) hold;
// made by the stage, not by a try, it is the stage span's exception.
//
// WithTimeout(d) gives each try a ctx with a deadline d later. A try that
// fails after its deadline passed (while the caller's ctx was still live)
// is marked pigging.timed_out=true, and its error.type is
// context.DeadlineExceeded when the error wraps that. A timed-out try is
// retried like any other failure.
//
// With WithTimeout, the ctx given to the stage's function is cancelled when
// the try returns: a sequence returned lazily must not rely on it
// afterwards.
package middleware
