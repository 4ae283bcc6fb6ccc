package otelpig_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	lognoop "go.opentelemetry.io/otel/log/noop"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/otelpig"
)

// runJobWithSignals ends a run span after emitting a metric and a log
// record inside it, and returns the span's context.
func runJobWithSignals() trace.SpanContext {
	ctx, run := otel.Tracer("otelpig-test").Start(context.Background(), "run")
	emitMetricAndLog(ctx)
	run.End()
	return run.SpanContext()
}

// checkAllThree checks that got holds the run span, the counter and the log
// record of runJobWithSignals, with the record tied to the span.
func checkAllThree(t *testing.T, got received, sc trace.SpanContext) {
	t.Helper()
	if !slices.Equal(got.Spans, []string{"run"}) {
		t.Errorf("spans = %q, want [run]", got.Spans)
	}
	if v, ok := got.Metrics[testCounter]; !ok || v != 7 {
		t.Errorf("metrics = %v, want %s = 7", got.Metrics, testCounter)
	}
	want := logSeen{Body: testLogBody, TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String()}
	if !slices.Equal(got.Logs, []logSeen{want}) {
		t.Errorf("log records = %+v, want %+v", got.Logs, want)
	}
}

func TestAllSignalsOTLP(t *testing.T) {
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Run(protocol, func(t *testing.T) {
			isolate(t)
			c := &collector{}
			ln := listen(t)
			if protocol == "grpc" {
				c.serveGRPC(t, ln)
			} else {
				c.serveHTTP(t, ln)
			}
			setenv(t, map[string]string{
				"OTEL_TRACES_EXPORTER":        "otlp",
				"OTEL_METRICS_EXPORTER":       "otlp",
				"OTEL_LOGS_EXPORTER":          "otlp",
				"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + ln.Addr().String(),
			})
			shutdown := setup(t)
			sc := runJobWithSignals()
			if err := shutdown(context.Background()); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			got := c.seen()
			checkAllThree(t, got, sc)
			slices.Sort(got.Requests)
			want := []string{"POST /v1/logs", "POST /v1/metrics", "POST /v1/traces"}
			if protocol == "grpc" {
				want = []string{"grpc logs", "grpc metrics", "grpc traces"}
			}
			if !slices.Equal(got.Requests, want) {
				t.Errorf("requests = %q, want %q (one per signal, all flushed by shutdown)", got.Requests, want)
			}
		})
	}
}

func TestMetricsAndLogsOffByDefault(t *testing.T) {
	isolate(t)
	c := &collector{}
	ln := listen(t)
	c.serveHTTP(t, ln)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	var console syncBuffer
	shutdown := setup(t, otelpig.WithWriter(&console))
	if _, ok := otel.GetMeterProvider().(metricnoop.MeterProvider); !ok {
		t.Errorf("global meter provider is %T, want the no-op one", otel.GetMeterProvider())
	}
	if _, ok := otel.GetLoggerProvider().(lognoop.LoggerProvider); !ok {
		t.Errorf("global logger provider is %T, want the no-op one", otel.GetLoggerProvider())
	}
	runJobWithSignals()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if got := c.seen().Requests; !slices.Equal(got, []string{"POST /v1/traces"}) {
		t.Errorf("requests = %q, want the traces only", got)
	}
	if console.String() != "" {
		t.Errorf("wrote to the console: %q", console.String())
	}
}

// logRecorder is a log exporter that keeps the bodies it is given.
type logRecorder struct {
	mu     sync.Mutex
	bodies []string
}

func (r *logRecorder) Export(_ context.Context, records []sdklog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range records {
		r.bodies = append(r.bodies, rec.Body().AsString())
	}
	return nil
}
func (*logRecorder) Shutdown(context.Context) error   { return nil }
func (*logRecorder) ForceFlush(context.Context) error { return nil }

func TestWithMetricReaderAndLogExporter(t *testing.T) {
	isolate(t)
	// The options win over the environment: nothing goes to this address.
	addr := closedPort(t)
	setenv(t, map[string]string{
		"OTEL_METRICS_EXPORTER":       "otlp",
		"OTEL_LOGS_EXPORTER":          "otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + addr,
	})
	reader := sdkmetric.NewManualReader()
	logs := &logRecorder{}
	shutdown := setup(t, otelpig.WithMetricReader(reader), otelpig.WithLogExporter(logs),
		otelpig.WithExporter(&recordingExporter{}))
	runJobWithSignals()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			names = append(names, m.Name)
		}
	}
	if !slices.Equal(names, []string{testCounter}) {
		t.Errorf("manual reader collected %q, want [%s]", names, testCounter)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if !slices.Equal(logs.bodies, []string{testLogBody}) {
		t.Errorf("log exporter got %q, want [%s]", logs.bodies, testLogBody)
	}
}

// TestShutdownReportsLostTelemetry: a collector that is down loses spans,
// metrics and log records, and shutdown says so for each, with the endpoint.
func TestShutdownReportsLostTelemetry(t *testing.T) {
	isolate(t)
	addr := closedPort(t)
	setenv(t, map[string]string{
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_METRICS_EXPORTER":       "otlp",
		"OTEL_LOGS_EXPORTER":          "otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + addr,
	})
	const bound = 2 * time.Second
	shutdown := setup(t, otelpig.WithShutdownTimeout(bound))
	runJobWithSignals()
	start := time.Now()
	err := shutdown(context.Background())
	if elapsed := time.Since(start); elapsed > bound+time.Second {
		t.Errorf("shutdown took %v, bound %v", elapsed, bound)
	}
	if err == nil {
		t.Fatal("shutdown = nil after every export failed")
	}
	for _, want := range []string{
		"1 spans not exported to http://" + addr + "/v1/traces",
		"1 metrics not exported to http://" + addr + "/v1/metrics",
		"1 log records not exported to http://" + addr + "/v1/logs",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("shutdown error lacks %q:\n%v", want, err)
		}
	}
	// Export errors reported during the run name the endpoint too.
	for _, e := range reported.all() {
		if strings.Contains(e.Error(), "otelpig: exporting") && !strings.Contains(e.Error(), addr) {
			t.Errorf("reported export error without the endpoint: %v", e)
		}
	}
}

// TestHTTPSEndpointUsesTLS: an https:// endpoint is not made plain by the
// default-endpoint rule.
func TestHTTPSEndpointUsesTLS(t *testing.T) {
	isolate(t)
	c := &collector{}
	srv := httptest.NewTLSServer(c)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	setenv(t, map[string]string{
		"OTEL_TRACES_EXPORTER":           "otlp",
		"OTEL_METRICS_EXPORTER":          "otlp",
		"OTEL_LOGS_EXPORTER":             "otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT":    srv.URL, // https://127.0.0.1:port
		"OTEL_EXPORTER_OTLP_CERTIFICATE": ca,
	})
	shutdown := setup(t)
	sc := runJobWithSignals()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	got := c.seen()
	checkAllThree(t, got, sc)
	if len(got.TLS) != 3 || slices.Contains(got.TLS, false) {
		t.Errorf("requests %q over TLS %v, want 3, all over TLS", got.Requests, got.TLS)
	}
}

func TestShutdownBoundCoversAllSignals(t *testing.T) {
	isolate(t)
	addr, _ := silentListener(t)
	setenv(t, map[string]string{
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_METRICS_EXPORTER":       "otlp",
		"OTEL_LOGS_EXPORTER":          "otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + addr,
	})
	const bound = time.Second
	shutdown := setup(t, otelpig.WithShutdownTimeout(bound))
	runJobWithSignals()
	start := time.Now()
	err := shutdown(context.Background())
	// One bound for the three, not three bounds in a row.
	if elapsed := time.Since(start); elapsed > bound+time.Second {
		t.Errorf("shutdown took %v, bound %v for all three signals", elapsed, bound)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("shutdown = %v, want context.DeadlineExceeded among its errors", err)
	}
	for _, what := range []string{"spans", "metrics", "log records"} {
		if err == nil || !strings.Contains(err.Error(), what+" not exported to http://"+addr) {
			t.Errorf("shutdown error does not report lost %s: %v", what, err)
		}
	}
}

// failingExporter fails every export.
type failingExporter struct{ err error }

func (e failingExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return e.err }
func (failingExporter) Shutdown(context.Context) error                               { return nil }

func TestShutdownReportsExporterErrors(t *testing.T) {
	isolate(t)
	errBoom := errors.New("boom")
	shutdown := setup(t, otelpig.WithExporter(failingExporter{errBoom}))
	runJob("extract")
	err := shutdown(context.Background())
	if !errors.Is(err, errBoom) {
		t.Fatalf("shutdown = %v, want the exporter's error", err)
	}
	if want := "2 spans not exported to the otelpig_test.failingExporter given to WithExporter: boom"; !strings.Contains(err.Error(), want) {
		t.Errorf("shutdown = %q, want it to contain %q", err, want)
	}
}

// TestSummaryPrintedWhenRunEnds: the default summary of a trace is written
// as its root span ends, before any shutdown.
func TestSummaryPrintedWhenRunEnds(t *testing.T) {
	isolate(t)
	var buf syncBuffer
	shutdown := setup(t, otelpig.WithWriter(&buf))
	tr := otel.Tracer("otelpig-test")
	ctx, run := tr.Start(context.Background(), "nightly")
	_, stage := tr.Start(ctx, "load warehouse")
	stage.SetAttributes(attribute.Int("pigging.records.in", 300), attribute.Int("pigging.attempts", 2))
	stage.SetStatus(codes.Error, "connection refused")
	stage.End()
	if buf.String() != "" {
		t.Fatalf("printed before the run ended: %q", buf.String())
	}
	run.End()
	got := buf.String()
	lines := strings.Split(got, "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "nightly  ") ||
		!strings.HasPrefix(lines[1], "  load warehouse  ") ||
		!strings.HasSuffix(lines[1], `  pigging.records.in=300 pigging.attempts=2  status=Error "connection refused"`) ||
		lines[2] != "trace_id="+run.SpanContext().TraceID().String() || lines[3] != "" {
		t.Errorf("summary when the run ended:\n%s", got)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if buf.String() != got {
		t.Errorf("shutdown printed more: %q", strings.TrimPrefix(buf.String(), got))
	}
}
