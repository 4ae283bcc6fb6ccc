package otelpig

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	tracenoop "go.opentelemetry.io/otel/trace/noop"
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
// [WithLogExporter] override them. Each of the three variables takes a
// comma-separated list ("console,otlp"): one processor or reader per
// exporter; "none" alone means none. OTEL_PROPAGATORS sets the propagator
// (default "tracecontext,baggage"). Enumerated values are case-insensitive.
//
// OTEL_SDK_DISABLED=true turns every signal off, whatever the options say:
// Setup builds no exporter, installs the no-op tracer, meter and logger
// providers (and the propagator), and returns a shutdown that does nothing.
//
// The SDK and the OTLP exporters read OTEL_BSP_*, OTEL_BLRP_*,
// OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRIC_EXPORT_TIMEOUT and
// OTEL_EXPORTER_OTLP_TIMEOUT (and its per-signal variants) themselves;
// Setup checks them, and one that is not a positive integer is ignored
// with a warning like any unknown value; a timeout may also be 0, which
// the specification reads as no limit (still within the flush and
// shutdown bounds).
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
// never hangs the job. A ForceFlush of the providers (a pigging Tracker's
// Stop makes one) and the shutdown share that bound: a ForceFlush ends at
// the latest when the timeout since the first one has passed, and a
// shutdown after a ForceFlush that ran out of time does not wait for the
// collector again, so a silent collector costs a job's end the bound once.
// The shutdown's last collection of metrics is sent only when it differs
// from the last export, so a run flushed by Stop sends its metrics once.
// Each loss is reported once, naming the endpoint: by the export's own
// error (to the error handler, or to ForceFlush's caller), by ForceFlush's
// error, or by shutdown's result, whichever sees it first. It returns the errors met, joined with
// [errors.Join]: an error for each signal that lost telemetry (how much,
// the endpoint, the first export error) and the providers' own
// ([context.DeadlineExceeded] when the collector did not answer in time).
// It is safe to call more than once and from several goroutines: later
// calls wait for the first and return its result.
//
// Telemetry configuration never stops the job. An OTEL_*_EXPORTER, an OTLP
// protocol, OTEL_PROPAGATORS,
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, OTEL_SDK_DISABLED or
// one of the numeric variables above that holds an unknown value is
// ignored, as the OpenTelemetry specification asks: Setup writes a
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
	if pl.disabled {
		// The operator's off switch, stronger than the options: no
		// exporter is built, nothing is sent or printed. The propagator
		// still passes a caller's trace context on.
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		otel.SetLoggerProvider(lognoop.NewLoggerProvider())
		otel.SetTextMapPropagator(pl.propagator)
		return noop, nil
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

// choice is the exporters chosen for one signal.
type choice struct {
	exporters []string   // exporterOTLP, exporterConsole; [exporterNone]; nil for the default
	otlp      otlpTarget // when exporters has exporterOTLP
}

// has reports whether c lists the exporter name.
func (c choice) has(name string) bool { return slices.Contains(c.exporters, name) }

// plan is what the environment asks for, read and checked before anything
// is built.
type plan struct {
	disabled              bool // OTEL_SDK_DISABLED=true: no SDK at all
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
	disabled, err := sdkDisabled()
	if err != nil {
		warn(err, "using the default: false")
	}
	pl.disabled = disabled
	choose := func(s signal, overridden bool, fallback string) choice {
		if overridden || disabled {
			return choice{}
		}
		names, err := s.exporterNames()
		if err != nil {
			if names == nil {
				warn(err, fallback)
			} else {
				warn(err, "using "+strings.Join(names, ","))
			}
		}
		c := choice{exporters: names}
		if c.has(exporterOTLP) {
			if c.otlp, err = s.otlpTarget(); err != nil {
				warn(err, "using http/protobuf")
			}
		}
		return c
	}
	pl.traces = choose(tracesSignal, cfg.exporter != nil, "using the default: a summary of each trace")
	pl.metrics = choose(metricsSignal, cfg.metricReader != nil, "using the default: none")
	pl.logs = choose(logsSignal, cfg.logExporter != nil, "using the default: none")
	if pl.metrics.has(exporterOTLP) {
		if err := checkTemporality(); err != nil {
			warn(err, "using the default: cumulative")
		}
	}
	if !disabled {
		for _, v := range sdkNumbers {
			if err := v.check(); err != nil {
				warn(err, "using the SDK's default")
			}
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
// context and baggage when it is unset. A name given twice is taken once,
// as the specification requires. Names it does not know are left out and
// returned; when none is left, it returns the default.
func newPropagator() (p propagation.TextMapPropagator, ignored []string) {
	def := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	raw := getenv(propagatorsVar)
	if raw == "" {
		return def, nil
	}
	var known []string
	for _, n := range strings.Split(raw, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if slices.Contains(known, n) {
			continue
		}
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
	spanProcs []sdktrace.SpanProcessor // one per span exporter
	mp        *sdkmetric.MeterProvider // nil for "none"
	lp        *sdklog.LoggerProvider   // nil for "none"
	logProcs  []sdklog.Processor       // one per log exporter
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

// build makes the three providers pl and cfg ask for, with one processor
// or reader per exporter. On error, what was built is left for shutdown to
// release.
func (p *providers) build(ctx context.Context, cfg config, pl plan, res *resource.Resource) error {
	if err := p.buildTraces(ctx, cfg, pl, res); err != nil {
		return err
	}
	if err := p.buildMetrics(ctx, cfg, pl, res); err != nil {
		return err
	}
	return p.buildLogs(ctx, cfg, pl, res)
}

// buildTraces makes the tracer provider: one processor per exporter, the
// summary when no exporter is named.
func (p *providers) buildTraces(ctx context.Context, cfg config, pl plan, res *resource.Resource) error {
	type spanOut struct {
		exp    sdktrace.SpanExporter
		target string
		simple bool
	}
	var spanOuts []spanOut
	switch {
	case cfg.exporter != nil:
		spanOuts = append(spanOuts, spanOut{exp: cfg.exporter, target: fmt.Sprintf("the %T given to WithExporter", cfg.exporter)})
	case pl.traces.exporters == nil:
		// The summary holds spans until their root ends and prints at once:
		// no batching delay, and a tree even if the job never shuts down.
		spanOuts = append(spanOuts, spanOut{exp: newSummaryExporter(cfg.writer, summaryMaxSpans), target: consoleTarget, simple: true})
	}
	for _, name := range pl.traces.exporters {
		switch name {
		case exporterConsole:
			exp, err := stdouttrace.New(stdouttrace.WithWriter(cfg.writer))
			if err != nil {
				return fmt.Errorf("otelpig: console traces exporter: %w", err)
			}
			spanOuts = append(spanOuts, spanOut{exp: exp, target: consoleTarget})
		case exporterOTLP:
			target := pl.traces.otlp.endpoint
			exp, err := newOTLPSpanExporter(ctx, pl.traces.otlp)
			if err != nil {
				return fmt.Errorf("otelpig: traces exporter for %s: %w", target, err)
			}
			spanOuts = append(spanOuts, spanOut{exp: exp, target: target})
		}
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, o := range spanOuts {
		d := p.delivery("spans", o.target)
		wrapped := &spanExporter{SpanExporter: o.exp, d: d}
		var proc sdktrace.SpanProcessor
		if o.simple {
			proc = sdktrace.NewSimpleSpanProcessor(wrapped)
		} else {
			proc = sdktrace.NewBatchSpanProcessor(wrapped, bspOptions()...)
		}
		bp := &boundedSpanProcessor{SpanProcessor: proc, b: p.bound, ds: []*delivery{d}}
		p.spanProcs = append(p.spanProcs, bp)
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(bp))
	}
	p.tp = sdktrace.NewTracerProvider(tpOpts...)
	return nil
}

// buildLogs makes the logger provider the plan asks for, if any: one
// batch processor per exporter.
func (p *providers) buildLogs(ctx context.Context, cfg config, pl plan, res *resource.Resource) error {
	type logOut struct {
		exp    sdklog.Exporter
		target string
	}
	var logOuts []logOut
	if cfg.logExporter != nil {
		logOuts = append(logOuts, logOut{cfg.logExporter, fmt.Sprintf("the %T given to WithLogExporter", cfg.logExporter)})
	}
	for _, name := range pl.logs.exporters {
		switch name {
		case exporterConsole:
			exp, err := stdoutlog.New(stdoutlog.WithWriter(cfg.writer))
			if err != nil {
				return fmt.Errorf("otelpig: console logs exporter: %w", err)
			}
			logOuts = append(logOuts, logOut{exp, consoleTarget})
		case exporterOTLP:
			target := pl.logs.otlp.endpoint
			exp, err := newOTLPLogExporter(ctx, pl.logs.otlp)
			if err != nil {
				return fmt.Errorf("otelpig: logs exporter for %s: %w", target, err)
			}
			logOuts = append(logOuts, logOut{exp, target})
		}
	}
	if len(logOuts) > 0 {
		lpOpts := []sdklog.LoggerProviderOption{sdklog.WithResource(res)}
		for _, o := range logOuts {
			d := p.delivery("log records", o.target)
			proc := &boundedLogProcessor{Processor: sdklog.NewBatchProcessor(&logExporter{Exporter: o.exp, d: d}, blrpOptions()...), b: p.bound, ds: []*delivery{d}}
			p.logProcs = append(p.logProcs, proc)
			lpOpts = append(lpOpts, sdklog.WithProcessor(proc))
		}
		p.lp = sdklog.NewLoggerProvider(lpOpts...)
	}
	return nil
}

// buildMetrics makes the meter provider the plan asks for, if any: one
// periodic reader per exporter.
func (p *providers) buildMetrics(ctx context.Context, cfg config, pl plan, res *resource.Resource) error {
	var readers []sdkmetric.Reader
	if cfg.metricReader != nil {
		readers = append(readers, cfg.metricReader)
	}
	for _, name := range pl.metrics.exporters {
		var (
			exp    sdkmetric.Exporter
			target string
			err    error
		)
		switch name {
		case exporterConsole:
			target = consoleTarget
			if exp, err = stdoutmetric.New(stdoutmetric.WithWriter(cfg.writer)); err != nil {
				return fmt.Errorf("otelpig: console metrics exporter: %w", err)
			}
		case exporterOTLP:
			target = pl.metrics.otlp.endpoint
			if exp, err = newOTLPMetricExporter(ctx, pl.metrics.otlp); err != nil {
				return fmt.Errorf("otelpig: metrics exporter for %s: %w", target, err)
			}
		default:
			continue
		}
		d := p.delivery("metrics", target)
		readers = append(readers, newBoundedReader(sdkmetric.NewPeriodicReader(&metricExporter{Exporter: exp, d: d}, periodicReaderOptions()...), p.bound, d))
	}
	if len(readers) > 0 {
		mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
		for _, r := range readers {
			mpOpts = append(mpOpts, sdkmetric.WithReader(r))
		}
		p.mp = sdkmetric.NewMeterProvider(mpOpts...)
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
				for _, sp := range p.spanProcs {
					// The provider skips its processors when ctx is already
					// done; shutting ours down directly still stops their
					// goroutines. Their error is then ctx's, which traceErr
					// holds.
					_ = sp.Shutdown(ctx)
				}
			})
		}
		if p.mp != nil {
			wg.Go(func() { metricErr = p.mp.Shutdown(ctx) })
		}
		if p.lp != nil {
			wg.Go(func() {
				logErr = p.lp.Shutdown(ctx)
				for _, lp := range p.logProcs {
					// As for spans: the provider skips its processors when
					// ctx is already done.
					_ = lp.Shutdown(ctx)
				}
			})
		}
		wg.Wait()
		abandon()
		p.err = p.shutdownErr(traceErr, metricErr, logErr)
	})
	return p.err
}

// shutdownErr joins the exports' failures, each reported once with where
// it was going, and the providers' own shutdown errors that they do not
// already say.
func (p *providers) shutdownErr(traceErr, metricErr, logErr error) error {
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
			// The bound ended exports whose loss is reported above, or
			// was reported when the flush ran out of time.
		default:
			errs = append(errs, fmt.Errorf("otelpig: shutdown %s: %w", e.what, e.err))
		}
	}
	return errors.Join(errs...)
}
