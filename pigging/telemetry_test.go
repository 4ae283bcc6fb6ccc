package pigging_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/middleware"
	"github.com/pigging-go/pigging/pigging"
)

func logAttr(r sdklog.Record, key string) (attribute.Value, bool) {
	var v attribute.Value
	found := false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if string(kv.Key) == key {
			v, found = kv.Value, true
			return false
		}
		return true
	})
	return v, found
}

// signals is one run's three providers, in memory.
type signals struct {
	spans  *tracetest.SpanRecorder
	logs   *pigtest.LogSink
	reader *sdkmetric.ManualReader
	opts   []pigging.Option
}

func newSignals(t *testing.T) *signals {
	s := &signals{spans: tracetest.NewSpanRecorder(), logs: &pigtest.LogSink{}, reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(s.logs)))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = lp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	s.opts = append(pigtest.QuietOpts(), pigging.WithName("signals"), pigging.WithTracerProvider(tp), pigging.WithLoggerProvider(lp), pigging.WithMeterProvider(mp))
	return s
}

// metric returns the data points of the metric named name.
func (s *signals) metric(t *testing.T, name string) metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	return nil
}

// Every record of the log file is also a log record, with the run's or the
// stage's span context, its pairs, the job and the stage; the run records
// its duration, result and last success as metrics.
func TestLogRecordsAndRunMetrics(t *testing.T) {
	s := newSignals(t)
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	err := pigging.Run(context.Background(), logPath, lockPath, func(ctx context.Context, tr *pigging.Tracker) error {
		tr.Info("loaded", "rows", 42, "source", "orders.csv")
		if _, err := middleware.Transform("clean", func(_ context.Context, in []int) ([]int, error) { return in[:2], nil })(ctx, []int{1, 2, 3}); err != nil {
			return err
		}
		return middleware.Stage("vacuum", func(ctx context.Context) error {
			pigging.FromContext(ctx).Logger().WarnContext(ctx, "slow vacuum", "table", "orders")
			return nil
		})(ctx)
	}, s.opts...)
	if err != nil {
		t.Fatal(err)
	}
	file := proctest.RecordTexts(t, logPath)
	recs := s.logs.Records()
	if len(recs) != len(file) {
		t.Fatalf("%d log records, %d records in the file:\n%s", len(recs), len(file), strings.Join(file, "\n"))
	}
	spans := s.spans.Ended()
	var runSpan, stageSpan sdktrace.ReadOnlySpan
	for _, sp := range spans {
		switch sp.Name() {
		case runSpanName("signals"):
			runSpan = sp
		case "stage vacuum":
			stageSpan = sp
		}
	}
	if runSpan == nil || stageSpan == nil {
		t.Fatalf("spans: %v", spans)
	}
	for i, r := range recs {
		if !strings.Contains(file[i], r.Body().AsString()) {
			t.Errorf("log record %d body %q, file record %q", i, r.Body().AsString(), file[i])
		}
		if job, _ := logAttr(r, "pigging.job"); job.AsString() != "signals" {
			t.Errorf("log record %q has pigging.job %q", r.Body().AsString(), job.AsString())
		}
		want := runSpan.SpanContext()
		if strings.Contains(file[i], "stage=clean") {
			continue
		}
		if strings.Contains(file[i], "stage=vacuum") {
			want = stageSpan.SpanContext()
			if st, _ := logAttr(r, "pigging.stage.name"); st.AsString() != "vacuum" {
				t.Errorf("stage record %q has no pigging.stage.name", r.Body().AsString())
			}
		}
		if r.TraceID() != want.TraceID() || r.SpanID() != want.SpanID() {
			t.Errorf("log record %q in span %v/%v, want %v/%v", r.Body().AsString(), r.TraceID(), r.SpanID(), want.TraceID(), want.SpanID())
		}
	}
	if recs[0].EventName() != "pigging.run.start" || recs[len(recs)-1].EventName() != "pigging.run.stop" {
		t.Errorf("event names %q ... %q, want pigging.run.start ... pigging.run.stop", recs[0].EventName(), recs[len(recs)-1].EventName())
	}
	if v, _ := logAttr(recs[1], "rows"); v.AsInt64() != 42 || recs[1].Severity().String() != "INFO" {
		t.Errorf("record 1: rows=%v severity %v", v.AsInt64(), recs[1].Severity())
	}
	if v, _ := logAttr(recs[len(recs)-1], "cicd.pipeline.result"); v.AsString() != "success" {
		t.Errorf("stop record cicd.pipeline.result = %q", v.AsString())
	}
	if v, ok := attrOf(runSpan.Attributes(), "cicd.pipeline.result"); !ok || v.AsString() != "success" {
		t.Errorf("run span cicd.pipeline.result = %v", v.AsString())
	}

	hist, ok := s.metric(t, pigging.MetricRunDuration).(metricdata.Histogram[float64])
	if !ok || len(hist.DataPoints) != 1 || hist.DataPoints[0].Count != 1 {
		t.Fatalf("%s = %+v, want one run", pigging.MetricRunDuration, hist)
	}
	if v, _ := hist.DataPoints[0].Attributes.Value("pigging.run.result"); v.AsString() != "success" {
		t.Errorf("run duration result = %q", v.AsString())
	}
	recsIn, recsOut := int64(-1), int64(-1)
	if sum, ok := s.metric(t, pigging.MetricStageRecords).(metricdata.Sum[int64]); ok {
		for _, dp := range sum.DataPoints {
			name, _ := dp.Attributes.Value("pigging.stage.name")
			dir, _ := dp.Attributes.Value("pigging.records.direction")
			if name.AsString() == "clean" && dir.AsString() == "in" {
				recsIn = dp.Value
			}
			if name.AsString() == "clean" && dir.AsString() == "out" {
				recsOut = dp.Value
			}
		}
	}
	if recsIn != 3 || recsOut != 2 {
		t.Errorf("%s for clean: in %d, out %d; want 3 and 2", pigging.MetricStageRecords, recsIn, recsOut)
	}
	stageHist, ok := s.metric(t, pigging.MetricStageDuration).(metricdata.Histogram[float64])
	if !ok || len(stageHist.DataPoints) != 2 {
		t.Errorf("%s = %+v, want a series for each of the two stages", pigging.MetricStageDuration, stageHist)
	}
	for _, dp := range stageHist.DataPoints {
		if r, _ := dp.Attributes.Value("pigging.stage.result"); r.AsString() != "success" || dp.Count != 1 {
			t.Errorf("stage duration point %v: result %q count %d", dp.Attributes.ToSlice(), r.AsString(), dp.Count)
		}
	}
	gauge, ok := s.metric(t, pigging.MetricRunLastSuccess).(metricdata.Gauge[float64])
	if !ok || len(gauge.DataPoints) != 1 || gauge.DataPoints[0].Value < 1e9 {
		t.Errorf("%s = %+v, want the time of the success", pigging.MetricRunLastSuccess, gauge)
	}

	// A failed run, then a refused one: counted as a refusal only.
	err = pigging.Run(context.Background(), logPath, lockPath, func(ctx context.Context, tr *pigging.Tracker) error {
		return errors.New("warehouse down")
	}, s.opts...)
	if err == nil {
		t.Fatal("failing Run returned nil")
	}
	_ = pigging.Run(context.Background(), logPath, lockPath, func(context.Context, *pigging.Tracker) error { return nil }, s.opts...)
	hist = s.metric(t, pigging.MetricRunDuration).(metricdata.Histogram[float64])
	results := map[string]string{}
	for _, dp := range hist.DataPoints {
		r, _ := dp.Attributes.Value("pigging.run.result")
		et, _ := dp.Attributes.Value("error.type")
		results[r.AsString()] = et.AsString()
	}
	if _, ok := results["failure"]; !ok || len(results) != 2 {
		t.Errorf("run duration by result: %v, want success and failure only (a refused start is not a run)", results)
	}
	refusals, ok := s.metric(t, pigging.MetricLockRefusals).(metricdata.Sum[int64])
	if !ok || len(refusals.DataPoints) != 1 || refusals.DataPoints[0].Value != 1 {
		t.Fatalf("%s = %+v, want one refusal", pigging.MetricLockRefusals, refusals)
	}
	if v, _ := refusals.DataPoints[0].Attributes.Value("pigging.lock.reason"); v.AsString() != "stale" {
		t.Errorf("refusal reason %q, want stale", v.AsString())
	}
}

func attrOf(kvs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN moves exceptions from span events to
// log records ("logs") or sends them to both ("logs/dup").
func TestExceptionSignalOptIn(t *testing.T) {
	for _, tc := range []struct {
		env               string
		wantSpan, wantLog bool
	}{{"", true, false}, {"logs", false, true}, {"logs/dup", true, true}} {
		t.Run("opt-in="+tc.env, func(t *testing.T) {
			t.Setenv("OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN", tc.env)
			s := newSignals(t)
			dir := t.TempDir()
			_ = pigging.Run(context.Background(), filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock"), func(context.Context, *pigging.Tracker) error {
				return errors.New("warehouse down")
			}, s.opts...)
			var run sdktrace.ReadOnlySpan
			for _, sp := range s.spans.Ended() {
				if sp.Name() == runSpanName("signals") {
					run = sp
				}
			}
			gotSpan := false
			for _, ev := range run.Events() {
				gotSpan = gotSpan || ev.Name == "exception"
			}
			gotLog := false
			for _, r := range s.logs.Records() {
				if r.EventName() == "exception" {
					gotLog = true
					if v, _ := logAttr(r, "exception.message"); v.AsString() != "warehouse down" || r.TraceID() != run.SpanContext().TraceID() {
						t.Errorf("exception log record: message %q trace %v", v.AsString(), r.TraceID())
					}
				}
			}
			if gotSpan != tc.wantSpan || gotLog != tc.wantLog {
				t.Errorf("exception as span event %v, as log record %v; want %v, %v", gotSpan, gotLog, tc.wantSpan, tc.wantLog)
			}
		})
	}
}

// While a run lasts, the active-run counter is 1 and the start-time gauge
// holds its start; after it they are 0 and unchanged. A refused start
// touches neither, nor the duration histogram.
func TestActiveRunAndStartTime(t *testing.T) {
	s := newSignals(t)
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	active := func() int64 {
		t.Helper()
		sum, ok := s.metric(t, pigging.MetricRunActive).(metricdata.Sum[int64])
		if !ok || sum.IsMonotonic || len(sum.DataPoints) != 1 {
			t.Fatalf("%s = %+v, want one non-monotonic point", pigging.MetricRunActive, sum)
		}
		dp := sum.DataPoints[0]
		if job, _ := dp.Attributes.Value("pigging.job"); job.AsString() != "signals" || dp.Attributes.Len() != 1 {
			t.Errorf("%s attributes %v, want pigging.job=signals alone", pigging.MetricRunActive, dp.Attributes.ToSlice())
		}
		return dp.Value
	}
	startTime := func() float64 {
		t.Helper()
		g, ok := s.metric(t, pigging.MetricRunStartTime).(metricdata.Gauge[float64])
		if !ok || len(g.DataPoints) != 1 {
			t.Fatalf("%s = %+v, want one point", pigging.MetricRunStartTime, g)
		}
		return g.DataPoints[0].Value
	}
	if m := s.metric(t, pigging.MetricRunActive); m != nil {
		t.Fatalf("%s before any run = %+v, want nothing", pigging.MetricRunActive, m)
	}

	before := time.Now()
	var during int64
	var started float64
	err := pigging.Run(context.Background(), logPath, lockPath, func(context.Context, *pigging.Tracker) error {
		during = active()
		started = startTime()
		// A second Start of the same job while this one holds the lock is
		// refused: it must leave the live run's metrics alone.
		if err := pigging.Run(context.Background(), logPath, lockPath, func(context.Context, *pigging.Tracker) error { return nil }, s.opts...); err == nil {
			t.Error("a second run while the first holds the lock was not refused")
		}
		if n := active(); n != 1 {
			t.Errorf("%s after a refused start = %d, want 1", pigging.MetricRunActive, n)
		}
		return nil
	}, s.opts...)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if during != 1 {
		t.Errorf("%s during the run = %d, want 1", pigging.MetricRunActive, during)
	}
	if lo, hi := float64(before.UnixNano())/1e9, float64(after.UnixNano())/1e9; started < lo || started > hi {
		t.Errorf("%s = %f, want the run's start, between %f and %f", pigging.MetricRunStartTime, started, lo, hi)
	}
	if n := active(); n != 0 {
		t.Errorf("%s after the run = %d, want 0", pigging.MetricRunActive, n)
	}
	if st := startTime(); st != started {
		t.Errorf("%s after the run = %f, want the run's start %f still", pigging.MetricRunStartTime, st, started)
	}
	hist, ok := s.metric(t, pigging.MetricRunDuration).(metricdata.Histogram[float64])
	if !ok || len(hist.DataPoints) != 1 || hist.DataPoints[0].Count != 1 {
		t.Fatalf("%s = %+v, want the one run that ran, not the refused start", pigging.MetricRunDuration, hist)
	}
	refusals, ok := s.metric(t, pigging.MetricLockRefusals).(metricdata.Sum[int64])
	if !ok || len(refusals.DataPoints) != 1 || refusals.DataPoints[0].Value != 1 {
		t.Fatalf("%s = %+v, want one refusal", pigging.MetricLockRefusals, refusals)
	}
	if v, _ := refusals.DataPoints[0].Attributes.Value("pigging.lock.reason"); v.AsString() != "held" {
		t.Errorf("refusal reason %q, want held", v.AsString())
	}

	// A failed run goes back to 0 too, and a later run moves the start time.
	if err := pigging.Run(context.Background(), logPath, lockPath, func(context.Context, *pigging.Tracker) error {
		return errors.New("warehouse down")
	}, s.opts...); err == nil {
		t.Fatal("failing Run returned nil")
	}
	if n := active(); n != 0 {
		t.Errorf("%s after a failed run = %d, want 0", pigging.MetricRunActive, n)
	}
	if st := startTime(); st <= started {
		t.Errorf("%s after a second run = %f, want later than the first run's %f", pigging.MetricRunStartTime, st, started)
	}
}

// A panic's stack is recorded once, with the exception (a span event or an
// exception log record, as the opt-in says). A log record that is not an
// exception carries no exception.* attribute: the conventions give an
// exception record an exception.type or exception.message, and a bare
// exception.stacktrace on the ERROR line would be an exception without
// either, or a second copy of one.
func TestPanicStackOnlyOnTheException(t *testing.T) {
	for _, optIn := range []string{"", "logs", "logs/dup"} {
		t.Run("opt-in="+optIn, func(t *testing.T) {
			t.Setenv("OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN", optIn)
			s := newSignals(t)
			dir := t.TempDir()
			_ = pigging.Run(context.Background(), filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock"), func(ctx context.Context, _ *pigging.Tracker) error {
				_, err := middleware.Transform("explode", func(context.Context, []int) ([]int, error) { panic("boom") })(ctx, []int{1})
				return err
			}, s.opts...)
			stacks := 0
			for _, r := range s.logs.Records() {
				_, hasStack := logAttr(r, "exception.stacktrace")
				if r.EventName() == "exception" {
					if hasStack {
						stacks++
					}
					continue
				}
				r.WalkAttributes(func(kv attribute.KeyValue) bool {
					if strings.HasPrefix(string(kv.Key), "exception.") {
						t.Errorf("log record %q (not an exception) has %s", r.Body().AsString(), kv.Key)
					}
					return true
				})
			}
			if want := map[string]int{"": 0, "logs": 1, "logs/dup": 1}[optIn]; stacks != want {
				t.Errorf("%d exception log records with the stack, want %d", stacks, want)
			}
		})
	}
}
