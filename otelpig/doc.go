// Package otelpig sets up the OpenTelemetry SDK for a pigging job: it picks
// a span exporter from the standard environment variables, describes the
// process in a resource, installs the global tracer provider and
// propagator, and hands back one shutdown function that flushes the trace
// without ever hanging the job.
//
// Libraries, including pigging and its middleware, use only the
// OpenTelemetry API; a program calls Setup once, near the top of main, to
// decide where the spans go.
//
// # Getting started
//
//	func run() (err error) {
//		ctx := context.Background()
//		shutdown, err := otelpig.Setup(ctx, otelpig.WithServiceName("nightly-etl"))
//		if err != nil {
//			return err
//		}
//		defer func() { err = errors.Join(err, shutdown(context.Background())) }()
//
//		ctx = otelpig.ContextFromEnv(ctx) // continue a trace started by the caller
//		return pigging.Run(ctx, "etl.log", "etl.lock", job)
//	}
//
// With no environment at all, spans are printed as JSON lines on stderr, so
// the job runs anywhere with nothing else to start.
//
// # Choosing an exporter
//
// OTEL_TRACES_EXPORTER names the exporter:
//
//   - console (the default when unset): one JSON object per span on stderr,
//     or on the writer given with [WithWriter]. Never on stdout, which may
//     carry the job's data.
//   - otlp: to a collector such as Jaeger. OTEL_EXPORTER_OTLP_ENDPOINT sets
//     the address (default http://localhost:4318 for http/protobuf,
//     http://localhost:4317 for grpc); OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
//     else OTEL_EXPORTER_OTLP_PROTOCOL chooses "http/protobuf" (the default)
//     or "grpc".
//   - none: spans are created but exported nowhere.
//
// [WithExporter] overrides the variable, for tests or a custom backend.
// The OTLP exporters are built by go.opentelemetry.io/contrib/exporters/autoexport
// and honour the rest of the standard OTEL_EXPORTER_OTLP_* variables.
//
// # Resource and service name
//
// Every span carries a resource describing the process: service.name,
// host, OS type, process id, executable, owner and Go runtime, and the
// telemetry SDK. The command line is left out, as a job's arguments may
// hold credentials. The service name is, from strongest to weakest:
// OTEL_SERVICE_NAME, service.name in OTEL_RESOURCE_ATTRIBUTES,
// [WithServiceName], and the program's base name without extension.
// Operators can thus rename a job without a code change.
// OTEL_RESOURCE_ATTRIBUTES (key=value,key=value) adds further attributes.
//
// # Shutdown
//
// The function Setup returns flushes the spans still queued, then shuts the
// provider and its exporter down. It is bounded by the context given to it,
// or by 5 s ([WithShutdownTimeout]) when that context has no deadline:
// exports still running at the bound are cancelled, and shutdown returns
// the error (context.DeadlineExceeded, joined with any other) for the
// program to report. Calling it again returns the first result.
//
// # When the collector is down
//
// Setup never dials the collector, so it succeeds whether the collector is
// up or not. During the run, spans are exported in the background and a
// failed export is reported to the OpenTelemetry error handler (by default
// one line on stderr through the standard log package, see
// [go.opentelemetry.io/otel.SetErrorHandler]); the job's own work goes on.
// At the end, shutdown waits at most its bound.
//
// # Continuing a trace from the environment
//
// A scheduler or parent process can pass its span to the job in the
// TRACEPARENT, TRACESTATE and BAGGAGE environment variables (W3C formats).
// [ContextFromEnv] puts them in a context, so the run span becomes a child
// of the caller's span. It works with or without Setup.
package otelpig
