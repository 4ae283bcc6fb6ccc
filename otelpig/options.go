package otelpig

import (
	"io"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultShutdownTimeout bounds the shutdown function returned by [Setup]
// when the context given to it has no deadline.
const DefaultShutdownTimeout = 5 * time.Second

// config holds the settings of one [Setup] call.
type config struct {
	exporter        sdktrace.SpanExporter
	metricReader    sdkmetric.Reader
	logExporter     sdklog.Exporter
	writer          io.Writer
	serviceName     string
	attrs           []attribute.KeyValue
	shutdownTimeout time.Duration
}

// newConfig applies the defaults, then opts in order.
func newConfig(opts ...Option) config {
	cfg := config{
		writer:          os.Stderr,
		shutdownTimeout: DefaultShutdownTimeout,
	}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&cfg)
		}
	}
	if cfg.writer == nil {
		cfg.writer = os.Stderr
	}
	if cfg.shutdownTimeout <= 0 {
		cfg.shutdownTimeout = DefaultShutdownTimeout
	}
	return cfg
}

// Option configures [Setup]. Options override the environment, except for
// the service name (see [WithServiceName]).
//
// Option is sealed: only this package's With* functions provide one.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithExporter sends spans to e instead of the exporter named by
// OTEL_TRACES_EXPORTER. Spans reach e through a batch span processor, and the
// shutdown function returned by [Setup] shuts e down. Errors e returns are
// reported, and counted in shutdown's result, like those of the built-in
// exporters.
//
// Default: nil, which means the exporter is chosen from the environment
// (the summary tree on stderr when OTEL_TRACES_EXPORTER is unset).
func WithExporter(e sdktrace.SpanExporter) Option {
	return optionFunc(func(c *config) { c.exporter = e })
}

// WithWriter sets where the trace summary (OTEL_TRACES_EXPORTER unset) and
// the console exporters of all three signals (one JSON object per line)
// write. It has no effect when neither is in use. A failed write is an
// export error, reported and counted like any other.
//
// Default: os.Stderr, so that telemetry never mixes with data the job
// writes to stdout. A nil w restores the default.
func WithWriter(w io.Writer) Option {
	return optionFunc(func(c *config) { c.writer = w })
}

// WithServiceName sets the service.name resource attribute. Operators can
// rename a job without changing code: OTEL_SERVICE_NAME, and a service.name
// in OTEL_RESOURCE_ATTRIBUTES, win over this option.
//
// Default: the program's base name without extension ("etl" for
// /usr/local/bin/etl or etl.exe).
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithResourceAttributes adds attributes to the resource that describes the
// process in every exported span. Attributes from OTEL_RESOURCE_ATTRIBUTES
// win over these on a key conflict; [WithServiceName] wins over a
// service.name given here. Repeated calls add to the list.
//
// Default: none beyond the service name and the telemetry SDK, host and
// process attributes that [Setup] always detects.
func WithResourceAttributes(kv ...attribute.KeyValue) Option {
	return optionFunc(func(c *config) { c.attrs = append(c.attrs, kv...) })
}

// WithShutdownTimeout bounds the shutdown function returned by [Setup] when
// the context given to it has no deadline. A context deadline, when present,
// is used instead.
//
// Default: [DefaultShutdownTimeout] (5 s). Zero or negative d restores the
// default.
func WithShutdownTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.shutdownTimeout = d })
}

// WithMetricReader gives the global meter provider r instead of the reader
// OTEL_METRICS_EXPORTER asks for: a periodic reader around an exporter of
// your own, or a manual reader in a test. The shutdown function returned by
// [Setup] shuts r down, which collects and exports a last time.
//
// Default: nil, which means the reader is chosen from the environment
// (no meter provider, the no-op global, when OTEL_METRICS_EXPORTER is unset).
func WithMetricReader(r sdkmetric.Reader) Option {
	return optionFunc(func(c *config) { c.metricReader = r })
}

// WithLogExporter sends log records to e instead of the exporter named by
// OTEL_LOGS_EXPORTER. Records reach e through a batch processor, and the
// shutdown function returned by [Setup] shuts e down.
//
// Default: nil, which means the exporter is chosen from the environment
// (no logger provider, the no-op global, when OTEL_LOGS_EXPORTER is unset).
func WithLogExporter(e sdklog.Exporter) Option {
	return optionFunc(func(c *config) { c.logExporter = e })
}
