package otelpig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// otelpig reads the two enumerated variables of each signal itself (the
// exporter name and the OTLP protocol) and leaves every other
// OTEL_EXPORTER_OTLP_* variable (endpoint, headers, certificates, timeout,
// compression, temporality) to the OTLP exporters, which read them as the
// specification says. autoexport, which otherwise does the same dispatch,
// compares the names case-sensitively, reports errors without the variable,
// and takes no exporter options, so it cannot give the specification's
// plain-text default endpoint.

// Values of OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER and
// OTEL_LOGS_EXPORTER, lower case. An unset variable is "".
const (
	exporterOTLP    = "otlp"
	exporterConsole = "console"
	exporterNone    = "none"
)

// OTLP protocols the Go exporters implement.
const (
	protocolHTTP = "http/protobuf"
	protocolGRPC = "grpc"
)

// signal names one OpenTelemetry signal's variables.
type signal struct {
	name    string // traces, metrics, logs
	upper   string // TRACES, METRICS, LOGS: the infix of per-signal variables
	urlPath string // where OTLP/HTTP sends it below a base endpoint
}

var (
	tracesSignal  = signal{name: "traces", upper: "TRACES", urlPath: "/v1/traces"}
	metricsSignal = signal{name: "metrics", upper: "METRICS", urlPath: "/v1/metrics"}
	logsSignal    = signal{name: "logs", upper: "LOGS", urlPath: "/v1/logs"}
)

// exporterVar is the variable that names the signal's exporter.
func (s signal) exporterVar() string { return "OTEL_" + s.upper + "_EXPORTER" }

// getenv returns the variable's value without surrounding spaces.
func getenv(key string) string { return strings.TrimSpace(os.Getenv(key)) }

// exporterNames returns the exporters named by the signal's variable, a
// comma-separated list, in lower case (enumerated values are
// case-insensitive) and without repeats; nil when it is unset, or when no
// entry is known. An entry it does not know, and "none" beside other
// exporters, is left out and reported in the error, which names the
// variable and what it takes. "none" alone is returned as [none].
func (s signal) exporterNames() ([]string, error) {
	raw := getenv(s.exporterVar())
	if raw == "" {
		return nil, nil
	}
	var names, unknown []string
	none := false
	for n := range strings.SplitSeq(raw, ",") {
		switch n = strings.ToLower(strings.TrimSpace(n)); n {
		case exporterNone:
			none = true
		case exporterOTLP, exporterConsole:
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		default:
			unknown = append(unknown, strconv.Quote(n))
		}
	}
	var err error
	switch {
	case len(unknown) > 0 && len(names) > 0:
		err = fmt.Errorf("otelpig: %s=%s: use otlp, console or none, or a list of otlp and console; unknown exporter %s", s.exporterVar(), raw, strings.Join(unknown, ", "))
	case len(unknown) > 0:
		err = fmt.Errorf("otelpig: %s=%s: use otlp, console or none, or a list of otlp and console", s.exporterVar(), raw)
	case none && len(names) > 0:
		err = fmt.Errorf("otelpig: %s=%s: none cannot be listed with other exporters", s.exporterVar(), raw)
	}
	if len(names) == 0 && none && len(unknown) == 0 {
		names = []string{exporterNone}
	}
	return names, err
}

// otlpTarget is where one signal's OTLP exporter sends.
type otlpTarget struct {
	protocol string // protocolHTTP or protocolGRPC
	endpoint string // for messages: the URL (HTTP) or address (gRPC) used
	// plainDefault is set when no endpoint variable is given: the exporter
	// must then use the specification's default, http://localhost:4318 or
	// :4317 without TLS, where the Go exporters would default to TLS.
	plainDefault bool
	// badTimeout is set when the timeout variable holds a bad value, which
	// the exporters would use: the default is then passed explicitly.
	badTimeout bool
}

// otlpTarget reads the signal's OTLP protocol and endpoint variables. An
// unknown protocol is an error naming the variable that set it, returned
// with the target of the default protocol, http/protobuf: the caller warns
// and goes on with it.
func (s signal) otlpTarget() (otlpTarget, error) {
	t := otlpTarget{protocol: protocolHTTP, badTimeout: s.otlpTimeoutBad()}
	var bad error
	for _, key := range []string{"OTEL_EXPORTER_OTLP_" + s.upper + "_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		raw := getenv(key)
		if raw == "" {
			continue
		}
		switch p := strings.ToLower(raw); p {
		case protocolHTTP, protocolGRPC:
			t.protocol = p
		default:
			bad = fmt.Errorf("otelpig: %s=%s: use http/protobuf or grpc (the Go OTLP exporters do not implement http/json)", key, raw)
		}
		break
	}

	switch signalURL, baseURL := getenv("OTEL_EXPORTER_OTLP_"+s.upper+"_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); {
	case signalURL != "":
		t.endpoint = signalURL // used as is
	case baseURL != "" && t.protocol == protocolHTTP:
		t.endpoint = strings.TrimSuffix(baseURL, "/") + s.urlPath
	case baseURL != "":
		t.endpoint = baseURL
	default:
		insecureSet := getenv("OTEL_EXPORTER_OTLP_INSECURE") != "" ||
			getenv("OTEL_EXPORTER_OTLP_"+s.upper+"_INSECURE") != ""
		t.plainDefault = !insecureSet
		scheme := "http://"
		if insecureSet {
			scheme = "" // TLS or not as that variable says
		}
		if t.protocol == protocolHTTP {
			t.endpoint = scheme + "localhost:4318" + s.urlPath
		} else {
			t.endpoint = scheme + "localhost:4317"
		}
	}
	return t, bad
}

// temporalityVar selects the metric temporality of the OTLP metric exporters,
// which read it themselves but only warn, invisibly, about a bad value.
const temporalityVar = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"

// checkTemporality returns an error naming temporalityVar when it holds a
// value the exporters would ignore.
func checkTemporality() error {
	raw := getenv(temporalityVar)
	switch strings.ToLower(raw) {
	case "", "cumulative", "delta", "lowmemory":
		return nil
	}
	return fmt.Errorf("otelpig: %s=%s: use cumulative, delta or lowmemory", temporalityVar, raw)
}

// otlpOptions returns the options an OTLP exporter of t needs beyond what
// it reads from the environment itself: insecure for the default plain
// endpoint, the default timeout for one whose variable was refused. The
// exporters of each signal and protocol have option types of their own;
// insecure and timeout are theirs.
func otlpOptions[O any](t otlpTarget, insecure func() O, timeout func(time.Duration) O) []O {
	var opts []O
	if t.plainDefault {
		opts = append(opts, insecure())
	}
	if t.badTimeout {
		opts = append(opts, timeout(defaultOTLPTimeout))
	}
	return opts
}

func newOTLPSpanExporter(ctx context.Context, t otlpTarget) (sdktrace.SpanExporter, error) {
	if t.protocol == protocolGRPC {
		return otlptracegrpc.New(ctx, otlpOptions(t, otlptracegrpc.WithInsecure, otlptracegrpc.WithTimeout)...)
	}
	return otlptracehttp.New(ctx, otlpOptions(t, otlptracehttp.WithInsecure, otlptracehttp.WithTimeout)...)
}

func newOTLPMetricExporter(ctx context.Context, t otlpTarget) (sdkmetric.Exporter, error) {
	if t.protocol == protocolGRPC {
		return otlpmetricgrpc.New(ctx, otlpOptions(t, otlpmetricgrpc.WithInsecure, otlpmetricgrpc.WithTimeout)...)
	}
	return otlpmetrichttp.New(ctx, otlpOptions(t, otlpmetrichttp.WithInsecure, otlpmetrichttp.WithTimeout)...)
}

func newOTLPLogExporter(ctx context.Context, t otlpTarget) (sdklog.Exporter, error) {
	if t.protocol == protocolGRPC {
		return otlploggrpc.New(ctx, otlpOptions(t, otlploggrpc.WithInsecure, otlploggrpc.WithTimeout)...)
	}
	return otlploghttp.New(ctx, otlpOptions(t, otlploghttp.WithInsecure, otlploghttp.WithTimeout)...)
}

// errAbandoned is the cause given to exports still running when the
// shutdown bound ends.
var errAbandoned = errors.New("otelpig: export abandoned at shutdown")

// delivery is what the exporters of one signal share with the shutdown: a
// context that ends exports still running when the shutdown bound ends, and
// a count of what could not be delivered, so that shutdown reports lost
// telemetry and not only a late collector. Each loss is reported once:
// by the error of the export that failed (the SDK hands it to the error
// handler, or to the caller of ForceFlush), by the error of a ForceFlush
// that ran out of time, or, for what is left, by the shutdown's result.
type delivery struct {
	what     string          // "spans", "metrics", "log records"
	target   string          // the endpoint or writer, for messages
	stop     context.Context // done when exports must end
	bound    *flushBound     // told of each successful export
	shutting *atomic.Bool    // set once the shutdown has begun

	mu       sync.Mutex
	inflight int   // items in exports still running
	lost     int   // items in exports that failed
	reported int   // items of lost and inflight already reported
	first    error // the first export error, as the exporter gave it
}

func newDelivery(what, target string, stop context.Context, bound *flushBound, shutting *atomic.Bool) *delivery {
	return &delivery{what: what, target: target, stop: stop, bound: bound, shutting: shutting}
}

// export runs one export of n items with a ctx that also ends with d.stop,
// and records a failure. The error it returns names the target. An export
// the shutdown abandoned returns nil: the shutdown's result reports it.
func (d *delivery) export(ctx context.Context, n int, fn func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(d.stop, func() { cancel(context.Cause(d.stop)) })
	defer stop()

	d.mu.Lock()
	d.inflight += n
	d.mu.Unlock()
	err := fn(ctx)
	d.mu.Lock()
	d.inflight -= n
	abandoned := err != nil && errors.Is(context.Cause(ctx), errAbandoned)
	if err != nil {
		d.lost += n
		if d.first == nil {
			d.first = err
		}
		if !abandoned && !d.shutting.Load() && !cutByFlush(ctx, err) {
			// The caller reports this error: the SDK's error handler, or
			// whoever called ForceFlush.
			d.reported = max(d.reported, d.lost)
		}
	}
	d.mu.Unlock()
	switch {
	case err == nil:
		if d.bound != nil {
			d.bound.exported(d)
		}
		return nil
	case abandoned:
		return nil
	}
	return &exportError{fmt.Errorf("otelpig: exporting %d %s to %s: %w", n, d.what, d.target, err)}
}

// exportError is the error of one failed export. The shutdown leaves it out
// of its result when a reader or processor returns it, as the delivery's
// own error already reports the loss.
type exportError struct{ err error }

func (e *exportError) Error() string { return e.err.Error() }
func (e *exportError) Unwrap() error { return e.err }

// report returns an error for the items not yet reported as lost, those of
// exports still running included, with cause as what ended them; nil when
// there are none. They count as reported from then on.
func (d *delivery) report(cause error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.lost + d.inflight - d.reported
	if n <= 0 {
		return nil
	}
	d.reported += n
	return fmt.Errorf("otelpig: %d %s not exported to %s: %w", n, d.what, d.target, cause)
}

// hasLost reports whether any item was lost.
func (d *delivery) hasLost() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lost+d.inflight > 0
}

// err reports what was lost and not reported yet, or nil. Items of exports
// still running count as lost: err is called when the shutdown bound has
// ended them.
func (d *delivery) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	lost, first := d.lost+d.inflight-d.reported, d.first
	if lost <= 0 {
		return nil
	}
	if first == nil {
		if first = context.Cause(d.stop); first == nil {
			first = errAbandoned
		}
	}
	more := ""
	if d.reported > 0 {
		more = "more "
	}
	return fmt.Errorf("otelpig: %d %s%s not exported to %s: %w", lost, more, d.what, d.target, first)
}

// spanExporter adds a [delivery] to a span exporter.
type spanExporter struct {
	sdktrace.SpanExporter
	d *delivery
}

func (e *spanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	return e.d.export(ctx, len(spans), func(ctx context.Context) error {
		return e.SpanExporter.ExportSpans(ctx, spans)
	})
}

// metricExporter adds a [delivery] to a metric exporter, and sends the
// final collection of the shutdown only when it says something the last
// export did not: a job's Stop flushes its metrics, and the shutdown's
// collection right after would otherwise send the same values a second
// time (two POSTs to /v1/metrics per run).
type metricExporter struct {
	sdkmetric.Exporter
	d *delivery

	mu   sync.Mutex
	last string // the fingerprint of the last export tried
}

func (e *metricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	fp, n := fingerprint(rm)
	e.mu.Lock()
	same := fp == e.last
	e.last = fp
	e.mu.Unlock()
	if e.d.shutting.Load() && (same || n == 0) {
		// Sent already, or reported lost already: nothing new to say.
		return nil
	}
	return e.d.export(ctx, n, func(ctx context.Context) error {
		return e.Exporter.Export(ctx, rm)
	})
}

// logExporter adds a [delivery] to a log exporter.
type logExporter struct {
	sdklog.Exporter
	d *delivery
}

func (e *logExporter) Export(ctx context.Context, records []sdklog.Record) error {
	return e.d.export(ctx, len(records), func(ctx context.Context) error {
		return e.Exporter.Export(ctx, records)
	})
}
