package e2e

import (
	"context"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/otelpig"
)

// The instruments TestSignalsOTLP emits, and the names Jaeger's prometheus
// exporter gives them.
const (
	e2eCounter        = "pigging.e2e.records" // unit {record}
	e2eCounterProm    = "pigging_e2e_records_total"
	e2eHistogram      = "pigging.e2e.duration" // unit s
	e2eHistogramCount = "pigging_e2e_duration_seconds_count"
	e2eHistogramSum   = "pigging_e2e_duration_seconds_sum"
	e2eLogBody        = "e2e log record inside the run span"
)

// TestSignalsOTLP sets up all three signals with otelpig.Setup over OTLP,
// as a job does with OTEL_{TRACES,METRICS,LOGS}_EXPORTER=otlp, emits a span,
// a log record inside it, a counter and a histogram through the global
// providers, and finds each in Jaeger: the span in the query API, the log
// record (with the span's trace and span ids) in the logs pipeline's debug
// output, and the metrics in the metrics pipeline's prometheus exporter.
func TestSignalsOTLP(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs a Jaeger build; runs in the full test command")
	}
	j := startJaeger(t)
	for _, tc := range []struct {
		protocol, endpoint string
	}{
		{"http/protobuf", j.OTLPHTTP},
		{"grpc", j.OTLPGRPC},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			service := uniqueService("signals-e2e")
			for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
				"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
				"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_PROPAGATORS",
				"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"} {
				t.Setenv(k, "")
			}
			t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
			t.Setenv("OTEL_METRICS_EXPORTER", "otlp")
			t.Setenv("OTEL_LOGS_EXPORTER", "otlp")
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.protocol)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+tc.endpoint)
			t.Setenv("OTEL_SERVICE_NAME", service)
			restoreGlobals(t)

			since := time.Now()
			shutdown, err := otelpig.Setup(context.Background())
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			sc := emitSignals(context.Background())
			if err := shutdown(context.Background()); err != nil {
				t.Fatalf("shutdown: %v", err)
			}

			spans := waitSpans(t, j, service, since, func(s []Span) bool { return len(s) == 1 })
			if s := spans[0]; s.Name != "run" || s.TraceID != sc.TraceID().String() {
				t.Errorf("span in Jaeger = %s, want run in trace %s", s, sc.TraceID())
			}

			recs := j.WaitLogRecords(t, service, func(r []LogRecord) bool { return len(r) >= 1 })
			if len(recs) != 1 {
				t.Errorf("got %d log records, want 1: %v", len(recs), recs)
			}
			r := recs[0]
			if r.Body != e2eLogBody || r.SeverityText != "WARN" || r.SeverityNumber != "Warn(13)" {
				t.Errorf("log record = %s, want body %q at WARN", r, e2eLogBody)
			}
			if r.TraceID != sc.TraceID().String() || r.SpanID != sc.SpanID().String() {
				t.Errorf("log record trace/span = %s/%s, want the run span's %s/%s", r.TraceID, r.SpanID, sc.TraceID(), sc.SpanID())
			}
			if r.Attrs["pigging.stage.name"] != "clean" || r.Attrs["rows"] != "3" || r.Scope != "pigging-e2e" {
				t.Errorf("log record attributes = %v scope %q, want pigging.stage.name=clean rows=3, scope pigging-e2e", sortedMap(r.Attrs), r.Scope)
			}

			job := map[string]string{"job": service}
			m := j.WaitMetrics(t, func(m Metrics) bool {
				return len(m.Find(e2eCounterProm, job)) > 0 && len(m.Find(e2eHistogramCount, job)) > 0
			})
			if c := m.Find(e2eCounterProm, job); len(c) != 1 || c[0].Value != 42 || c[0].Labels["pigging_stage_name"] != "clean" {
				t.Errorf("%s = %v, want one sample of 42 with pigging_stage_name=clean", e2eCounterProm, c)
			}
			count, sum := m.Find(e2eHistogramCount, job), m.Find(e2eHistogramSum, job)
			if len(count) != 1 || count[0].Value != 2 || len(sum) != 1 || math.Abs(sum[0].Value-1.75) > 1e-9 {
				t.Errorf("histogram count %v sum %v, want 2 and 1.75", count, sum)
			}
		})
	}
}

// emitSignals ends a "run" span after emitting, inside it, a WARN log
// record, 42 on a counter and two histogram values (0.25 s, 1.5 s), all
// through the global providers as a library would. It returns the span's
// context.
func emitSignals(ctx context.Context) trace.SpanContext {
	ctx, span := otel.Tracer("pigging-e2e").Start(ctx, "run")
	defer span.End()

	var rec otellog.Record
	rec.SetTimestamp(time.Now())
	rec.SetBody(attribute.StringValue(e2eLogBody))
	rec.SetSeverity(otellog.SeverityWarn)
	rec.SetSeverityText("WARN")
	rec.AddAttributes(attribute.String("pigging.stage.name", "clean"), attribute.Int("rows", 3))
	otel.GetLoggerProvider().Logger("pigging-e2e").Emit(ctx, rec)

	meter := otel.Meter("pigging-e2e")
	counter, _ := meter.Int64Counter(e2eCounter, metric.WithUnit("{record}"))
	counter.Add(ctx, 42, metric.WithAttributes(attribute.String("pigging.stage.name", "clean")))
	hist, _ := meter.Float64Histogram(e2eHistogram, metric.WithUnit("s"))
	hist.Record(ctx, 0.25)
	hist.Record(ctx, 1.5)
	return span.SpanContext()
}

// restoreGlobals puts the global providers and propagator back when the
// test ends.
func restoreGlobals(t *testing.T) {
	tp, mp, lp, prop := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetLoggerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(tp)
		otel.SetMeterProvider(mp)
		otel.SetLoggerProvider(lp)
		otel.SetTextMapPropagator(prop)
	})
}
