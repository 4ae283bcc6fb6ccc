// Package otelpig sets up the OpenTelemetry SDK for a pigging job: it picks
// the exporters of traces, metrics and logs from the standard environment
// variables, describes the process in a resource, installs the global
// tracer, meter and logger providers and the propagator, and hands back one
// shutdown function that flushes all three without ever hanging the job.
//
// Import it as github.com/pigging-go/pigging/otelpig. Libraries, including
// pigging and its middleware, use only the OpenTelemetry API; a program
// calls Setup once, near the top of main, to decide where the telemetry
// goes.
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
// With no environment at all, each trace is printed on stderr as a short
// tree, so the job runs anywhere with nothing else to start, and a cron
// mail stays readable:
//
//	etl  11.0ms  pigging.status=success  [start log×2 stop]
//	  extract orders-csv  0.9ms  pigging.records.out=4000
//	  load warehouse  8.7ms  pigging.records.in=300 pigging.attempts=2
//	    attempt 1  42µs  pigging.attempt=1 error.type=*main.sinkError  [exception]  status=Error "warehouse: connection reset by peer"
//	    attempt 2  0.6ms  pigging.attempt=2
//	trace_id=0f130ed1be0bf11fd678437cd9ac1445
//
// # Choosing exporters
//
// OTEL_TRACES_EXPORTER names the span exporter:
//
//   - unset (the default): the summary above, one line per span as an
//     indented tree with its duration, the key pigging attributes
//     (pigging.records.in/out, pigging.attempts, error.type, the run's
//     pigging.status and pigging.run.result), its event counts and an Error
//     status, then the trace id. A trace is printed when its root span (the
//     run) ends, on stderr or the writer given with [WithWriter].
//   - console: the standard JSON of each span (stdouttrace) on that writer.
//     Never on stdout, which may carry the job's data.
//   - otlp: to a collector such as Jaeger, see below.
//   - none: spans are created (the log file still gets trace ids) but
//     exported nowhere, and nothing is printed.
//
// OTEL_METRICS_EXPORTER and OTEL_LOGS_EXPORTER take otlp, console (JSON on
// the same writer) and none, for the global meter and logger providers.
// Unset means none: the local log file already holds every record, and a
// cron job's stderr stays quiet. With none, the globals are the no-op
// providers.
//
// Each of the three variables also takes a comma-separated list, such as
// "console,otlp": one processor or reader per exporter. "none" alone means
// none. OTEL_SDK_DISABLED=true turns all three signals off: no-op
// providers, no exporter built, options included.
//
// Values are case-insensitive (OTLP works). Any other value is ignored,
// as the specification asks: Setup writes a warning that names the
// variable, the values it takes and the default it uses instead, for
// instance "OTEL_TRACES_EXPORTER=bogus: use otlp, console or none; ignored,
// using the default: a summary of each trace", and the job runs.
// [WithExporter], [WithMetricReader] and [WithLogExporter] override the
// variables, for tests or a custom backend.
//
// # OTLP
//
// OTEL_EXPORTER_OTLP_PROTOCOL, or the per-signal
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (METRICS, LOGS) that wins over it,
// chooses "http/protobuf" (the default) or "grpc"; the Go exporters do not
// implement "http/json". OTEL_EXPORTER_OTLP_ENDPOINT sets the collector's
// address; with no endpoint variable, otelpig sends to the specification's
// default, http://localhost:4318 (http/protobuf) or http://localhost:4317
// (grpc), in plain text. An https:// endpoint uses TLS. The other
// OTEL_EXPORTER_OTLP_* variables (per-signal endpoints, headers,
// certificates, timeout, compression) are read by the OTLP exporters as
// the specification defines them; the batch processors and the periodic
// reader read OTEL_BSP_*, OTEL_BLRP_* and OTEL_METRIC_EXPORT_*. Setup
// checks these numeric variables and ignores, with a warning, a value that
// is not a positive integer.
//
// Metrics are exported every 60 s (OTEL_METRIC_EXPORT_INTERVAL) and at
// shutdown, so a short job sends them once, at its end. Their temporality
// is cumulative unless OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE
// says delta or lowmemory. Cumulative is what Prometheus's OTLP receiver
// and the collector's prometheusremotewrite exporter take. Each run is a
// process of its own whose counters start at zero, but all runs of a job
// on a host share one service.instance.id and so one series: count a
// job's runs by the samples they leave (count_over_time), not by the
// counter's increase, which cannot see a restart from zero that was never
// exported. Delta
// sends only what changed since the previous export: choose it for
// backends that store deltas, or with a collector that turns them into
// cumulative series (the deltatocumulative processor) in front of a
// Prometheus-style backend, which otherwise rejects or drops delta sums.
//
// # Resource and service name
//
// Every span, metric and log record carries a resource describing the
// process: service.name, service.version (the main module's version from
// the build information, when the binary was built with one),
// service.instance.id (a version 5 UUID of service.namespace, service.name
// and host.name, the same for every run of the job on the host, unless
// set explicitly), host, OS type, process
// id, executable, owner and Go runtime, and the telemetry SDK. The command
// line is left out, as a job's arguments may hold credentials. The service
// name is, from strongest to weakest: OTEL_SERVICE_NAME, service.name in
// OTEL_RESOURCE_ATTRIBUTES, [WithServiceName], and the program's base name
// without extension. Operators can thus rename a job without a code change.
// OTEL_RESOURCE_ATTRIBUTES (key=value,key=value) adds further attributes
// and overrides the detected ones.
//
// # Propagation
//
// The global propagator is W3C trace context plus baggage, or the list in
// OTEL_PROPAGATORS (tracecontext, baggage, b3, b3multi, jaeger, xray,
// ottrace, none), built by go.opentelemetry.io/contrib/propagators/autoprop.
//
// # Shutdown
//
// The function Setup returns flushes the spans, metrics and log records
// still queued, then shuts the three providers and their exporters down,
// side by side. It is bounded by the context given to it, or by 5 s
// ([WithShutdownTimeout]) when that context has no deadline: exports still
// running at the bound are cancelled. It returns an error when telemetry
// was lost, one per signal, saying how much, where it was going and the
// first export error ("otelpig: 3 spans not exported to
// http://localhost:4318/v1/traces: ..."), joined with the providers' own
// errors (context.DeadlineExceeded when the collector did not answer in
// time). Calling it again returns the first result.
//
// A ForceFlush of the providers, such as the one a pigging Tracker's Stop
// makes, shares that bound: it ends at the latest when the timeout since
// the first ForceFlush has passed, and a shutdown after a ForceFlush that
// ran out of time shuts down at once instead of waiting for the silent
// collector a second time. Each loss is reported once, by whichever error
// sees it first, and the shutdown's last collection of metrics is sent only
// when it differs from the last export.
//
// # When the collector is down
//
// Setup never dials the collector, so it succeeds whether the collector is
// up or not. During the run, telemetry is exported in the background and a
// failed export is reported to the OpenTelemetry error handler (by default
// one line on stderr through the standard log package, see
// [go.opentelemetry.io/otel.SetErrorHandler]), naming the endpoint; the
// job's own work goes on. At the end, shutdown waits at most its bound and
// reports what was lost.
//
// # Continuing a trace from the environment
//
// A scheduler or parent process can pass its span to the job in the
// TRACEPARENT, TRACESTATE and BAGGAGE environment variables (W3C formats).
// [ContextFromEnv] puts them in a context, so the run span becomes a child
// of the caller's span. It works with or without Setup.
package otelpig
