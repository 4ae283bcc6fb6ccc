package otelpig

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	lognoop "go.opentelemetry.io/otel/log/noop"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Setup installs OpenTelemetry SDK providers for traces, metrics and logs as
// the global ones, and the global propagator. Call it once, near the start
// of main: each call replaces the globals.
//
// Traces go to [WithExporter] when given, else where OTEL_TRACES_EXPORTER
// says: unset, a compact summary of each trace on [WithWriter] (os.Stderr
// by default); "console", the standard JSON of each span on that writer,
// never on stdout; "otlp", to OTEL_EXPORTER_OTLP_ENDPOINT with the protocol
// of OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
// ("http/protobuf" by default, or "grpc"); "none", nowhere (spans still get
// valid ids for the log file). With no endpoint variable, "otlp" sends to
// the specification's default, http://localhost:4318 (http/protobuf) or
// http://localhost:4317 (grpc), in plain text; an https:// endpoint uses
// TLS. The other OTEL_EXPORTER_OTLP_* variables (headers, timeout,
// certificates) apply as the OTLP exporters define them.
//
// OTEL_METRICS_EXPORTER and OTEL_LOGS_EXPORTER work the same way for the
// global meter and logger providers, except that unset means "none": the
// globals are then no-op providers. [WithMetricReader] and
// [WithLogExporter] override them. OTEL_PROPAGATORS sets the propagator
// (default "tracecontext,baggage"). Enumerated values are case-insensitive.
//
// Setup connects to nothing: an unreachable collector does not make it
// fail. Export errors during the run go to the OpenTelemetry error handler
// (by default one line on stderr through the standard log package) and name
// the endpoint.
//
// The returned shutdown flushes what is still queued and shuts the three
// providers and their exporters down, side by side. It is bounded by its
// ctx, or by [WithShutdownTimeout] (5 s by default) when ctx has no
// deadline; exports still running when the bound ends are cancelled, so it
// never hangs the job. It returns the errors met, joined with
// [errors.Join]: an error for each signal that lost telemetry (how much,
// the endpoint, the first export error) and the providers' own
// ([context.DeadlineExceeded] when the collector did not answer in time).
// It is safe to call more than once and from several goroutines: later
// calls wait for the first and return its result.
//
// Telemetry configuration never stops the job. An OTEL_*_EXPORTER, an OTLP
// protocol, OTEL_PROPAGATORS or
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE that holds an unknown
// value is ignored, as the OpenTelemetry specification asks: Setup writes a
// warning naming the variable, the values it takes and what is used
// instead ("otelpig: OTEL_TRACES_EXPORTER=jaeger: use otlp, console or
// none; ignored, using the default: ...") on [WithWriter]'s writer, and goes
// on with the default ([EnvWarnings] returns the same warnings). Setup
// returns an error only when an exporter cannot be built. It then changes
// no global state, and shutdown is still a usable function that returns
// nil. Problems detecting
// part of the resource (an invalid OTEL_RESOURCE_ATTRIBUTES entry, say) are
// reported to the error handler and do not fail Setup.
func Setup(ctx context.Context, opts ...Option) (shutdown func(context.Context) error, err error) {
	noop := func(context.Context) error { return nil }
	cfg := newConfig(opts...)

	pl, warnings := readEnv(cfg)
	for _, w := range warnings {
		// Written before anything is built, so that it comes first; a
		// failed write loses only the warning.
		_, _ = fmt.Fprintf(cfg.writer, "%s\n", w)
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return noop, err
	}

	p := &providers{timeout: cfg.shutdownTimeout, bound: &flushBound{timeout: cfg.shutdownTimeout}}
	p.exports, p.abandon = context.WithCancelCause(context.Background())
	if err := p.build(ctx, cfg, pl, res); err != nil {
		p.abandon(errAbandoned)
		_ = p.shutdown(ctx)
		return noop, err
	}

	otel.SetTracerProvider(p.tp)
	if p.mp != nil {
		otel.SetMeterProvider(p.mp)
	} else {
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
	}
	if p.lp != nil {
		otel.SetLoggerProvider(p.lp)
	} else {
		otel.SetLoggerProvider(lognoop.NewLoggerProvider())
	}
	otel.SetTextMapPropagator(pl.propagator)
	return p.shutdown, nil
}

// choice is the exporter chosen for one signal.
type choice struct {
	exporter string     // exporterOTLP, exporterConsole, exporterNone or ""
	otlp     otlpTarget // when exporter is exporterOTLP
}

// plan is what the environment asks for, read and checked before anything
// is built.
type plan struct {
	traces, metrics, logs choice
	propagator            propagation.TextMapPropagator
}

// readEnv reads and checks every variable Setup uses, except those an
// option overrides. A value it does not know is ignored, as the
// specification asks of an unrecognised enumerated value: it falls back to
// the default and returns a warning naming the variable and what it falls
// back to. Telemetry configuration never stops the job.
func readEnv(cfg config) (pl plan, warnings []error) {
	warn := func(err error, fallback string) {
		warnings = append(warnings, fmt.Errorf("%w; ignored, %s", err, fallback))
	}
	choose := func(s signal, overridden bool, fallback string) choice {
		if overridden {
			return choice{}
		}
		name, err := s.exporterName()
		if err != nil {
			warn(err, fallback)
			return choice{}
		}
		c := choice{exporter: name}
		if name == exporterOTLP {
			if c.otlp, err = s.otlpTarget(); err != nil {
				warn(err, "using http/protobuf")
			}
		}
		return c
	}
	pl.traces = choose(tracesSignal, cfg.exporter != nil, "using the default: a summary of each trace")
	pl.metrics = choose(metricsSignal, cfg.metricReader != nil, "using the default: none")
	pl.logs = choose(logsSignal, cfg.logExporter != nil, "using the default: none")
	if pl.metrics.exporter == exporterOTLP {
		if err := checkTemporality(); err != nil {
			warn(err, "using the default: cumulative")
		}
	}
	var ignored []string
	pl.propagator, ignored = newPropagator()
	if ignored != nil {
		warnings = append(warnings, fmt.Errorf("otelpig: %s=%s: unknown propagator %s: use a comma-separated list of tracecontext, baggage, b3, b3multi, jaeger, xray, ottrace, or none; ignored",
			propagatorsVar, getenv(propagatorsVar), strings.Join(ignored, ", ")))
	}
	return pl, warnings
}

// propagatorsVar lists the propagators, comma-separated.
const propagatorsVar = "OTEL_PROPAGATORS"

// newPropagator returns the propagators OTEL_PROPAGATORS names, W3C trace
// context and baggage when it is unset. Names it does not know are left
// out and returned; when none is left, it returns the default.
func newPropagator() (p propagation.TextMapPropagator, ignored []string) {
	def := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	raw := getenv(propagatorsVar)
	if raw == "" {
		return def, nil
	}
	var known []string
	for _, n := range strings.Split(raw, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if _, err := autoprop.TextMapPropagator(n); err != nil {
			ignored = append(ignored, n)
			continue
		}
		known = append(known, n)
	}
	if len(known) == 0 {
		return def, ignored
	}
	p, err := autoprop.TextMapPropagator(known...)
	if err != nil { // each name was taken alone: not expected
		return def, append(ignored, known...)
	}
	return p, ignored
}

// providers owns what Setup built and shuts it down once.
type providers struct {
	tp        *sdktrace.TracerProvider
	spanProc  sdktrace.SpanProcessor   // nil when no span is exported
	mp        *sdkmetric.MeterProvider // nil for "none"
	lp        *sdklog.LoggerProvider   // nil for "none"
	logProc   sdklog.Processor         // nil for "none"
	timeout   time.Duration
	delivered []*delivery // one per exporter
	bound     *flushBound // shared by ForceFlush calls and the shutdown
	shutting  atomic.Bool // set when the shutdown begins

	exports context.Context         // done when exports must stop
	abandon context.CancelCauseFunc // ends exports

	once sync.Once
	err  error
}

// delivery returns a new delivery record for one signal's exporter.
func (p *providers) delivery(what, target string) *delivery {
	d := newDelivery(what, target, p.exports, p.bound, &p.shutting)
	p.delivered = append(p.delivered, d)
	return d
}

// consoleTarget names the writer of the console and summary exporters in
// messages.
const consoleTarget = "the console writer"

// build makes the three providers pl and cfg ask for. On error, what was
// built is left for shutdown to release.
func (p *providers) build(ctx context.Context, cfg config, pl plan, res *resource.Resource) error {
	// Traces.
	var (
		spanExp sdktrace.SpanExporter
		target  string
		simple  bool
		err     error
	)
	switch {
	case cfg.exporter != nil:
		spanExp, target = cfg.exporter, fmt.Sprintf("the %T given to WithExporter", cfg.exporter)
	case pl.traces.exporter == "":
		// The summary holds spans until their root ends and prints at once:
		// no batching delay, and a tree even if the job never shuts down.
		spanExp, target, simple = newSummaryExporter(cfg.writer), consoleTarget, true
	case pl.traces.exporter == exporterConsole:
		target = consoleTarget
		if spanExp, err = stdouttrace.New(stdouttrace.WithWriter(cfg.writer)); err != nil {
			return fmt.Errorf("otelpig: console traces exporter: %w", err)
		}
	case pl.traces.exporter == exporterOTLP:
		target = pl.traces.otlp.endpoint
		if spanExp, err = newOTLPSpanExporter(ctx, pl.traces.otlp); err != nil {
			return fmt.Errorf("otelpig: traces exporter for %s: %w", target, err)
		}
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if spanExp != nil {
		d := p.delivery("spans", target)
		wrapped := &spanExporter{SpanExporter: spanExp, d: d}
		var proc sdktrace.SpanProcessor
		if simple {
			proc = sdktrace.NewSimpleSpanProcessor(wrapped)
		} else {
			proc = sdktrace.NewBatchSpanProcessor(wrapped)
		}
		p.spanProc = &boundedSpanProcessor{SpanProcessor: proc, b: p.bound, ds: []*delivery{d}}
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p.spanProc))
	}
	p.tp = sdktrace.NewTracerProvider(tpOpts...)

	// Metrics.
	var reader sdkmetric.Reader
	switch {
	case cfg.metricReader != nil:
		reader = cfg.metricReader
	case pl.metrics.exporter == exporterConsole:
		exp, err := stdoutmetric.New(stdoutmetric.WithWriter(cfg.writer))
		if err != nil {
			return fmt.Errorf("otelpig: console metrics exporter: %w", err)
		}
		d := p.delivery("metrics", consoleTarget)
		reader = newBoundedReader(sdkmetric.NewPeriodicReader(&metricExporter{Exporter: exp, d: d}), p.bound, d)
	case pl.metrics.exporter == exporterOTLP:
		exp, err := newOTLPMetricExporter(ctx, pl.metrics.otlp)
		if err != nil {
			return fmt.Errorf("otelpig: metrics exporter for %s: %w", pl.metrics.otlp.endpoint, err)
		}
		d := p.delivery("metrics", pl.metrics.otlp.endpoint)
		reader = newBoundedReader(sdkmetric.NewPeriodicReader(&metricExporter{Exporter: exp, d: d}), p.bound, d)
	}
	if reader != nil {
		p.mp = sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader))
	}

	// Logs.
	var logExp sdklog.Exporter
	switch {
	case cfg.logExporter != nil:
		logExp, target = cfg.logExporter, fmt.Sprintf("the %T given to WithLogExporter", cfg.logExporter)
	case pl.logs.exporter == exporterConsole:
		target = consoleTarget
		if logExp, err = stdoutlog.New(stdoutlog.WithWriter(cfg.writer)); err != nil {
			return fmt.Errorf("otelpig: console logs exporter: %w", err)
		}
	case pl.logs.exporter == exporterOTLP:
		target = pl.logs.otlp.endpoint
		if logExp, err = newOTLPLogExporter(ctx, pl.logs.otlp); err != nil {
			return fmt.Errorf("otelpig: logs exporter for %s: %w", target, err)
		}
	}
	if logExp != nil {
		d := p.delivery("log records", target)
		wrapped := &logExporter{Exporter: logExp, d: d}
		p.logProc = &boundedLogProcessor{Processor: sdklog.NewBatchProcessor(wrapped), b: p.bound, ds: []*delivery{d}}
		p.lp = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(p.logProc))
	}
	return nil
}

func (p *providers) shutdown(ctx context.Context) error {
	p.once.Do(func() {
		p.shutting.Store(true)
		// The bound is ctx's deadline, or the timeout; none at all when a
		// ForceFlush just ran out of time waiting for the collector: the
		// job's end waits for a silent collector once, not twice.
		deadline := p.bound.shutdownDeadline()
		if d, ok := ctx.Deadline(); ok && !p.bound.isCut() {
			deadline = d
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
		// The processors and readers export from goroutines of their own,
		// with contexts of their own; cut those exports off when our bound
		// ends.
		abandon := func() {
			if err := context.Cause(ctx); err != nil {
				p.abandon(fmt.Errorf("%w: %w", errAbandoned, err))
			}
			p.abandon(errAbandoned)
		}
		stop := context.AfterFunc(ctx, abandon)
		defer stop()

		// The three providers share the one bound, side by side, so a slow
		// trace collector does not eat the metrics' time.
		var wg sync.WaitGroup
		var traceErr, metricErr, logErr error
		if p.tp != nil {
			wg.Go(func() {
				traceErr = p.tp.Shutdown(ctx)
				if p.spanProc != nil {
					// The provider skips its processors when ctx is already
					// done; shutting ours down directly still stops its
					// goroutine. Its error is then ctx's, which traceErr holds.
					_ = p.spanProc.Shutdown(ctx)
				}
			})
		}
		if p.mp != nil {
			wg.Go(func() { metricErr = p.mp.Shutdown(ctx) })
		}
		if p.lp != nil {
			wg.Go(func() {
				logErr = p.lp.Shutdown(ctx)
				if p.logProc != nil {
					// As for spans: the provider skips its processors when
					// ctx is already done.
					_ = p.logProc.Shutdown(ctx)
				}
			})
		}
		wg.Wait()
		abandon()

		var errs []error
		lost := false
		for _, d := range p.delivered {
			err := d.err()
			errs = append(errs, err)
			lost = lost || err != nil || d.hasLost()
		}
		for _, e := range []struct {
			what string
			err  error
		}{{"traces", traceErr}, {"metrics", metricErr}, {"logs", logErr}} {
			switch {
			case e.err == nil, errors.As(e.err, new(*exportError)):
			case lost && (errors.Is(e.err, context.DeadlineExceeded) || errors.Is(e.err, context.Canceled)):
				// The bound ended exports whose loss is reported above,
				// or was reported when the flush ran out of time.
			default:
				errs = append(errs, fmt.Errorf("otelpig: shutdown %s: %w", e.what, e.err))
			}
		}
		p.err = errors.Join(errs...)
	})
	return p.err
}
