package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/runctx"
	"github.com/pigging-go/pigging/internal/semkeys"
	"github.com/pigging-go/pigging/pigging"
)

// ScopeName is the instrumentation scope of the spans the middleware makes.
const ScopeName = "github.com/pigging-go/pigging/middleware"

// PanicError is a panic recovered in a stage, returned as an error with the
// panic value and the full stack. It is the same type as pigging.PanicError,
// so one errors.As serves both packages; Unwrap gives the value when it is
// an error.
type PanicError = pigging.PanicError

// Errors for bad input. A wrapper never panics: a call of a stage made with
// bad input returns one of these, wrapped with the stage and the argument,
// without calling anything, and records it on the stage span like any other
// failure.
var (
	// ErrNilFunc means the function given to the wrapper is nil.
	ErrNilFunc = errors.New("middleware: function is nil")
	// ErrEmptyName means the stage name given to the wrapper is empty.
	ErrEmptyName = errors.New("middleware: stage name is empty")
	// ErrInvalidOption means an option's value is out of range (WithRetry
	// attempts below 1, a negative backoff or timeout).
	ErrInvalidOption = errors.New("middleware: invalid option")
)

// Stage kinds, as pigging.stage.kind.
const (
	kindExtract   = "extract"
	kindTransform = "transform"
	kindLoad      = "load"
	kindStage     = "stage"
)

// Extract wraps fn, a function that produces data, as the stage
// "extract <name>". The returned function has fn's signature; each call
// makes a span, counts the records fn returns (a sequence is returned as
// it is and not counted), logs to the Tracker in ctx,
// recovers panics and retries as the options say. See the package doc.
//
// It never panics: a nil fn, an empty name or a bad option makes each call
// return an error (ErrNilFunc, ErrEmptyName, ErrInvalidOption) that names
// the stage. A call whose ctx is done already returns an error wrapping
// ctx.Err() without calling fn (see Cancellation in the package doc). The
// returned function is safe for concurrent use when fn is.
func Extract[T any](name string, fn func(ctx context.Context) (T, error), opts ...Option) func(ctx context.Context) (T, error) {
	s := newStage(kindExtract, name, fn == nil, opts)
	out := counterFor[T]()
	return func(ctx context.Context) (T, error) {
		var res T
		var c call
		if err := s.begin(ctx, &c); err != nil {
			return res, err
		}
		if s.err != nil {
			return res, c.end(s.err)
		}
		err := c.do(func(ctx context.Context) error {
			var err error
			res, err = fn(ctx)
			return err
		})
		if err == nil && c.observed {
			c.out, c.hasOut = out.count(res)
		}
		return res, c.end(err)
	}
}

// Transform wraps fn, a function from one form of the data to another, as
// the stage "transform <name>": see Extract. It counts records both in
// and out. A sequence in or out is passed on as it is and not counted:
// TransformSeq and TransformSeq2 count the items of one taken in.
func Transform[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error), opts ...Option) func(ctx context.Context, in In) (Out, error) {
	return transform(name, fn, nil, opts)
}

// Load wraps fn, a function that writes data somewhere, as the stage
// "load <name>": see Extract. It counts the records given to it. A
// sequence is passed on as it is and not counted: LoadSeq and LoadSeq2
// count its items as they are pulled.
func Load[T any](name string, fn func(ctx context.Context, in T) error, opts ...Option) func(ctx context.Context, in T) error {
	return load(name, fn, nil, opts)
}

// transform is Transform, and with count TransformSeq and TransformSeq2.
func transform[In, Out any](name string, fn func(context.Context, In) (Out, error), count counting[In], opts []Option) func(context.Context, In) (Out, error) {
	s := newStage(kindTransform, name, fn == nil, opts)
	inc := counterFor[In]()
	outc := counterFor[Out]()
	return func(ctx context.Context, in In) (Out, error) {
		var res Out
		var c call
		if err := s.begin(ctx, &c); err != nil {
			return res, err
		}
		if s.err != nil {
			return res, c.end(s.err)
		}
		err := doIn(&c, in, inc, count, func(ctx context.Context, in In) error {
			var err error
			res, err = fn(ctx, in)
			return err
		})
		if err == nil && c.observed {
			c.out, c.hasOut = outc.count(res)
		}
		return res, c.end(err)
	}
}

// load is Load, and with count LoadSeq and LoadSeq2.
func load[T any](name string, fn func(context.Context, T) error, count counting[T], opts []Option) func(context.Context, T) error {
	s := newStage(kindLoad, name, fn == nil, opts)
	inc := counterFor[T]()
	return func(ctx context.Context, in T) error {
		var c call
		if err := s.begin(ctx, &c); err != nil {
			return err
		}
		if s.err != nil {
			return c.end(s.err)
		}
		return c.end(doIn(&c, in, inc, count, fn))
	}
}

// Stage wraps fn, a step that neither takes nor returns records (a vacuum,
// a refresh, a notification), as the stage "stage <name>": see Extract.
func Stage(name string, fn func(ctx context.Context) error, opts ...Option) func(ctx context.Context) error {
	s := newStage(kindStage, name, fn == nil, opts)
	return func(ctx context.Context) error {
		var c call
		if err := s.begin(ctx, &c); err != nil {
			return err
		}
		if s.err != nil {
			return c.end(s.err)
		}
		return c.end(c.do(fn))
	}
}

// stage is what a wrapper knows of itself, built once at wrap time.
type stage struct {
	kind, name string
	cfg        config
	err        error // bad input: every call returns it

	spanName  string
	attempt   []string // attempt span names, "attempt 1"...
	rstage    *runctx.Stage
	startOpts []trace.SpanStartOption

	// attemptOpts[n-1] are the start options of the span of attempt n.
	attemptOpts [][]trace.SpanStartOption
}

func newStage(kind, name string, nilFn bool, opts []Option) *stage {
	cfg, cfgErr := newConfig(opts)
	s := &stage{kind: kind, name: name, cfg: cfg, spanName: kind}
	if name != "" {
		s.spanName = kind + " " + name
		s.rstage = &runctx.Stage{Kind: kind, Name: name}
	}

	var errs []error
	if name == "" {
		errs = append(errs, fmt.Errorf("%s: name: %w", kind, ErrEmptyName))
	}
	if nilFn {
		errs = append(errs, fmt.Errorf("%s: fn: %w", s.spanName, ErrNilFunc))
	}
	if cfgErr != nil {
		errs = append(errs, fmt.Errorf("%s: %w", s.spanName, cfgErr))
	}
	s.err = errors.Join(errs...)

	attrs := make([]attribute.KeyValue, 0, 3+len(cfg.attrs))
	attrs = append(attrs, semkeys.StageKind.String(kind), semkeys.StageName.String(name))
	if cfg.timeout > 0 {
		attrs = append(attrs, semkeys.TimeoutMS.Int64(cfg.timeout.Milliseconds()))
	}
	attrs = append(attrs, cfg.attrs...)
	s.startOpts = []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attrs...),
	}
	if cfg.attempts > 1 {
		s.attempt = make([]string, cfg.attempts)
		s.attemptOpts = make([][]trace.SpanStartOption, cfg.attempts)
		for i := range s.attempt {
			s.attempt[i] = "attempt " + strconv.Itoa(i+1)
			s.attemptOpts[i] = []trace.SpanStartOption{
				trace.WithSpanKind(trace.SpanKindInternal),
				trace.WithAttributes(semkeys.Attempt.Int(i + 1)),
			}
		}
	}
	return s
}

// tracerOpts are the options of the stages' tracers, built once.
var tracerOpts = []trace.TracerOption{trace.WithInstrumentationVersion(pigging.Version()), trace.WithSchemaURL(semconv.SchemaURL)}

// call is one call of a stage.
type call struct {
	s        *stage
	tracker  runctx.Run // nil without a Tracker
	ctx      context.Context
	span     trace.Span
	tracer   trace.Tracer
	start    time.Time // set only with a Tracker: see timeStart
	attempts int
	timedOut bool

	// recording is span.IsRecording() at the start. observed is recording
	// or a Tracker in ctx: only then is there anything to count, time,
	// set or log. A call that is not observed only starts and ends its
	// span around the function.
	recording, observed bool

	// onAttempt says that the error the call returns was recorded as an
	// exception on the span of the attempt that returned it: the stage
	// span then gets status and error.type, not a second exception.
	onAttempt bool

	in, out       int64
	hasIn, hasOut bool
}

// begin starts the stage span and the stage ctx in c, a zero call. It
// fills c in place: a call is too big to be returned cheaply. When ctx is
// done already, it starts nothing and returns the error the call returns
// (see notCalled).
func (s *stage) begin(ctx context.Context, c *call) error {
	if ctx == nil {
		ctx = context.Background()
	}
	c.s = s
	c.tracker = runctx.FromContext(ctx)
	if ctx.Err() != nil {
		return s.notCalled(ctx, c.tracker)
	}
	var tp trace.TracerProvider
	switch {
	case c.tracker != nil:
		tp = c.tracker.TracerProvider()
	case s.cfg.provider != nil:
		tp = s.cfg.provider
	default:
		tp = otel.GetTracerProvider()
	}
	c.tracer = tp.Tracer(ScopeName, tracerOpts...)
	ctx, c.span = c.tracer.Start(ctx, s.spanName, s.startOpts...)
	c.recording = c.span.IsRecording()
	c.observed = c.recording || c.tracker != nil
	if c.tracker != nil {
		c.timeStart()
	}
	// The stage in ctx is read by a Tracker's Logger, to add stage=<name>
	// to the records logged inside the stage. A call that is not observed
	// (no Tracker in ctx, a span that does not record) leaves it out: it
	// would cost every such call an allocation, for a Logger that is not
	// the one of the run in ctx.
	if s.rstage != nil && c.observed {
		ctx = runctx.WithStage(ctx, s.rstage)
	}
	c.ctx = ctx
	return nil
}

// notCalled returns the error of a call whose ctx was done before it
// began, and logs it as one WARN record to r, the Tracker in ctx, when
// there is one. The function is not called and no span is made: nothing
// ran. The record is a WARN, not an ERROR: the stage did not fail, the run
// was cancelled or ran out of time, and the error that reaches the run
// says so there.
func (s *stage) notCalled(ctx context.Context, r runctx.Run) error {
	cerr := ctx.Err()
	var err error
	// cause and cerr have different types, or the comparable type of a
	// context error: != cannot panic.
	if cause := context.Cause(ctx); cause != nil && cause != cerr {
		err = fmt.Errorf("%s not called: %w (cause: %w)", s.spanName, cerr, cause)
	} else {
		err = fmt.Errorf("%s not called: %w", s.spanName, cerr)
	}
	if r != nil {
		if s.rstage != nil {
			ctx = runctx.WithStage(ctx, s.rstage)
		}
		r.LogAttrs(ctx, slog.LevelWarn, errtype.Message(err))
	}
	return err
}

// startTimer is a span that tells when it started, as the SDK's do.
type startTimer interface{ StartTime() time.Time }

// timeStart sets c.start, from which the log line's duration is counted:
// the start time the span took when it has one (it read the clock
// already), else now.
func (c *call) timeStart() {
	if st, ok := c.span.(startTimer); ok && c.recording {
		if t := st.StartTime(); !t.IsZero() {
			c.start = t
			return
		}
	}
	c.start = time.Now()
}

// end records the outcome of the call on its span and in the log, ends the
// span and returns err unchanged.
func (c *call) end(err error) error {
	if c.observed {
		c.finish(err)
	}
	c.span.End()
	return err
}

// finish is end for an observed call: it sets the outcome on a recording
// span and reports it to the Tracker, which logs it and records the
// stage's metrics.
func (c *call) finish(err error) {
	if span := c.span; c.recording {
		// One SetAttributes call: each one costs the SDK a pass over the
		// span's attributes.
		kvs := make([]attribute.KeyValue, 0, 4)
		if c.hasIn {
			kvs = append(kvs, semkeys.RecordsIn.Int64(c.in))
		}
		if c.hasOut {
			kvs = append(kvs, semkeys.RecordsOut.Int64(c.out))
		}
		if c.s.attempt != nil && c.attempts > 0 {
			kvs = append(kvs, semkeys.Attempts.Int(c.attempts))
		}
		if c.timedOut && err != nil {
			kvs = append(kvs, semkeys.TimedOut.Bool(true))
		}
		if len(kvs) > 0 {
			span.SetAttributes(kvs...)
		}
		if err != nil {
			recordError(span, err, !c.onAttempt)
		}
	}
	if c.tracker != nil {
		c.tracker.StageEnded(c.ctx, &runctx.StageEnd{Stage: c.s.rstage, Name: c.s.spanName, Start: c.start,
			In: c.in, Out: c.out, HasIn: c.hasIn, HasOut: c.hasOut, Attempts: c.attempts, Err: err})
	}
}

// recordError marks span failed by err: status Error, error.type and,
// when exception is true, an exception event (with the stack of a panic).
// The semantic conventions ask that an exception be recorded once: on the
// span where it happened. Nothing here calls err's methods unguarded: a
// typed nil or an Error method that panics still gives a readable text.
func recordError(span trace.Span, err error, exception bool) {
	if exception {
		var stack []byte
		if pe, ok := errtype.As[*PanicError](err); ok && pe != nil {
			stack = pe.Stack
		}
		errtype.AddException(span, err, stack)
	}
	span.SetAttributes(errtype.KeyErrorType.String(errtype.Of(err)))
	span.SetStatus(codes.Error, errtype.Message(err))
}
