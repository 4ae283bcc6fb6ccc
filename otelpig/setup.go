package otelpig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// envTracesExporter is the standard environment variable that names the
// span exporter: "console" (the default), "otlp" or "none".
const envTracesExporter = "OTEL_TRACES_EXPORTER"

// errAbandoned is the cause given to exports still running when the
// shutdown bound ends.
var errAbandoned = errors.New("otelpig: export abandoned at shutdown")

// Setup installs an OpenTelemetry SDK tracer provider as the global one and
// sets the global propagator to W3C trace context plus baggage. Call it once,
// near the start of main: each call replaces the global provider.
//
// The exporter is [WithExporter] when given, else the one named by
// OTEL_TRACES_EXPORTER: "console" (the default when unset) writes spans as
// JSON lines to [WithWriter], os.Stderr by default, never to stdout;
// "otlp" sends them to OTEL_EXPORTER_OTLP_ENDPOINT with the protocol from
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
// ("http/protobuf" by default, or "grpc"); "none" exports nothing. The
// other OTEL_EXPORTER_OTLP_* variables (headers, timeout, certificates)
// apply as the OTLP exporters define them.
//
// Setup connects to nothing: an unreachable collector does not make it
// fail. Export errors during the run go to the OpenTelemetry error handler
// (by default one line on stderr through the standard log package).
//
// The returned shutdown flushes the spans still queued and shuts the
// provider and exporter down. It is bounded by its ctx, or by
// [WithShutdownTimeout] (5 s by default) when ctx has no deadline; exports
// still running when the bound ends are cancelled, so it never hangs the
// job. It returns the errors met, joined with [errors.Join] (for instance
// [context.DeadlineExceeded] when the collector did not answer in time).
// It is safe to call more than once and from several goroutines: later calls
// wait for the first and return its result.
//
// Setup returns an error when OTEL_TRACES_EXPORTER or the OTLP protocol
// names an unknown value, or when an exporter cannot be built. It then
// changes no global state, and shutdown is still a usable function that
// returns nil. Problems detecting part of the resource (an invalid
// OTEL_RESOURCE_ATTRIBUTES entry, say) are reported to the error handler
// and do not fail Setup.
func Setup(ctx context.Context, opts ...Option) (shutdown func(context.Context) error, err error) {
	noop := func(context.Context) error { return nil }
	cfg := newConfig(opts...)

	res, err := newResource(ctx, cfg)
	if err != nil {
		return noop, err
	}
	exp, err := newExporter(ctx, cfg)
	if err != nil {
		return noop, err
	}

	p := &provider{timeout: cfg.shutdownTimeout}
	p.exports, p.abandon = context.WithCancelCause(context.Background())
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if exp != nil {
		p.proc = sdktrace.NewBatchSpanProcessor(&boundedExporter{SpanExporter: exp, exports: p.exports})
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p.proc))
	}
	p.tp = sdktrace.NewTracerProvider(tpOpts...)

	otel.SetTracerProvider(p.tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{},
	))
	return p.shutdown, nil
}

// newExporter returns the exporter cfg asks for, or nil for "none".
func newExporter(ctx context.Context, cfg config) (sdktrace.SpanExporter, error) {
	if cfg.exporter != nil {
		return cfg.exporter, nil
	}
	// autoexport's own "console" writes to stdout, which may carry the job's
	// data; handle that name here so the console exporter writes to cfg.writer.
	console := func(context.Context) (sdktrace.SpanExporter, error) {
		return stdouttrace.New(stdouttrace.WithWriter(cfg.writer))
	}
	name := os.Getenv(envTracesExporter)
	switch name {
	case "console":
		return console(ctx)
	case "none":
		return nil, nil
	}
	exp, err := autoexport.NewSpanExporter(ctx, autoexport.WithFallbackSpanExporter(console))
	if err != nil {
		return nil, fmt.Errorf("otelpig: %s=%q: %w (use console, otlp or none)", envTracesExporter, name, err)
	}
	if autoexport.IsNoneSpanExporter(exp) {
		return nil, nil
	}
	return exp, nil
}

// newResource describes this process: telemetry SDK, host, process and
// service name, then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, each
// overriding what comes before.
func newResource(ctx context.Context, cfg config) (*resource.Resource, error) {
	name := cfg.serviceName
	if name == "" {
		name = programName()
	}
	attrs := append(cfg.attrs[:len(cfg.attrs):len(cfg.attrs)], semconv.ServiceName(name))
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithOSType(),
		// Process attributes, without the command line: a job's arguments
		// may hold credentials and must not leave the machine in every span.
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessExecutablePath(),
		resource.WithProcessOwner(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithProcessRuntimeDescription(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
	if err != nil {
		if res == nil {
			return nil, fmt.Errorf("otelpig: resource: %w", err)
		}
		otel.Handle(fmt.Errorf("otelpig: resource: %w", err))
	}
	return res, nil
}

// programName is the program's base name without extension.
func programName() string {
	exe := os.Args[0]
	if exe == "" {
		if p, err := os.Executable(); err == nil {
			exe = p
		}
	}
	base := filepath.Base(exe)
	if n := strings.TrimSuffix(base, filepath.Ext(base)); n != "" && n != "." {
		return n
	}
	return base
}

// provider owns what Setup built and shuts it down once.
type provider struct {
	tp      *sdktrace.TracerProvider
	proc    sdktrace.SpanProcessor // nil when nothing is exported
	timeout time.Duration

	exports context.Context         // done when exports must stop
	abandon context.CancelCauseFunc // ends exports

	once sync.Once
	err  error
}

func (p *provider) shutdown(ctx context.Context) error {
	p.once.Do(func() {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, p.timeout)
			defer cancel()
		}
		// The batch processor exports from its own goroutine with a context
		// of its own; cut those exports off when our bound ends.
		stop := context.AfterFunc(ctx, func() { p.abandon(errAbandoned) })
		defer stop()

		err := p.tp.Shutdown(ctx)
		if p.proc != nil {
			// The provider skips its processors when ctx is already done;
			// shutting ours down directly still stops its goroutine. Its
			// error is then ctx's, which err already holds.
			_ = p.proc.Shutdown(ctx)
		}
		p.abandon(errAbandoned)
		if err != nil {
			p.err = fmt.Errorf("otelpig: shutdown: %w", err)
		}
	})
	return p.err
}

// boundedExporter cancels exports when the shutdown bound ends, so that no
// export outlives the job's shutdown.
type boundedExporter struct {
	sdktrace.SpanExporter
	exports context.Context
}

func (e *boundedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(e.exports, func() { cancel(context.Cause(e.exports)) })
	defer stop()
	return e.SpanExporter.ExportSpans(ctx, spans)
}
