package pigging_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pigging-go/pigging/middleware"
	"github.com/pigging-go/pigging/pigging"
)

// conventionRun runs a job whose stage "extract orders" fails with
// errors.New, then a second start of the same job, refused by the lock the
// failure left. It returns the signals of both.
func conventionRun(t *testing.T, opts ...pigging.Option) *signals {
	t.Helper()
	s := newSignals(t)
	s.opts = append(s.opts, opts...)
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	err := pigging.Run(context.Background(), logPath, lockPath, func(ctx context.Context, tr *pigging.Tracker) error {
		_, err := middleware.Extract("orders", func(context.Context) ([]int, error) { return nil, errors.New("source down") })(ctx)
		return err
	}, s.opts...)
	if err == nil {
		t.Fatal("failing Run returned nil")
	}
	if err := pigging.Run(context.Background(), logPath, lockPath, func(context.Context, *pigging.Tracker) error { return nil }, s.opts...); !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("second Run: %v, want ErrStaleLock", err)
	}
	return s
}

// spansNamed returns the ended spans named name, in the order they ended.
func spansNamed(s *signals, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, sp := range s.spans.Ended() {
		if sp.Name() == name {
			out = append(out, sp)
		}
	}
	return out
}

func eventsOf(sp sdktrace.ReadOnlySpan, name string) []sdktrace.Event {
	var out []sdktrace.Event
	for _, ev := range sp.Events() {
		if ev.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

func exceptionRecords(s *signals) []sdklog.Record {
	var out []sdklog.Record
	for _, r := range s.logs.Records() {
		if r.EventName() == "exception" {
			out = append(out, r)
		}
	}
	return out
}

// The exception opt-in holds on every path: a failing stage and a refused
// run send their exceptions where LogException and a failed run do, as
// span events by default, as log records under "logs", to both under
// "logs/dup". exception.type is the same fully qualified Go type on both.
func TestExceptionOptInEveryPath(t *testing.T) {
	for _, tc := range []struct {
		env               string
		wantSpan, wantLog bool
	}{{"", true, false}, {"logs", false, true}, {"logs/dup", true, true}} {
		t.Run("opt-in="+tc.env, func(t *testing.T) {
			t.Setenv("OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN", tc.env)
			s := conventionRun(t)
			stage := spansNamed(s, "extract orders")
			runs := spansNamed(s, runSpanName("signals"))
			if len(stage) != 1 || len(runs) != 2 {
				t.Fatalf("%d stage spans, %d run spans; want 1 and 2", len(stage), len(runs))
			}
			stageEvents, refusedEvents := eventsOf(stage[0], "exception"), eventsOf(runs[1], "exception")
			if got := len(stageEvents) == 1 && len(refusedEvents) == 1; got != tc.wantSpan || !tc.wantSpan && (len(stageEvents)+len(refusedEvents) > 0) {
				t.Errorf("exception span events: stage %d, refused run %d; want them %v", len(stageEvents), len(refusedEvents), tc.wantSpan)
			}
			var onStage, onRefused *sdklog.Record
			for _, r := range exceptionRecords(s) {
				switch r.SpanID() {
				case stage[0].SpanContext().SpanID():
					onStage = &r
				case runs[1].SpanContext().SpanID():
					onRefused = &r
				}
			}
			if (onStage != nil) != tc.wantLog || (onRefused != nil) != tc.wantLog {
				t.Fatalf("exception log records: stage %v, refused run %v; want them %v", onStage != nil, onRefused != nil, tc.wantLog)
			}
			if tc.wantSpan {
				checkExcAttrs(t, "stage event", stageEvents[0].Attributes, "*errors.errorString", "source down")
				checkExcAttrs(t, "refused event", refusedEvents[0].Attributes, "*github.com/pigging-go/pigging/pigging.LockError", "")
			}
			if tc.wantLog {
				var kvs []attribute.KeyValue
				onStage.WalkAttributes(func(kv attribute.KeyValue) bool { kvs = append(kvs, kv); return true })
				checkExcAttrs(t, "stage record", kvs, "*errors.errorString", "source down")
				if onStage.Severity().String() != "ERROR" || onStage.Body().AsString() != "source down" {
					t.Errorf("stage exception record: severity %v body %q", onStage.Severity(), onStage.Body().AsString())
				}
				if v, _ := logAttr(*onStage, "pigging.stage.name"); v.AsString() != "orders" {
					t.Errorf("stage exception record pigging.stage.name = %q", v.AsString())
				}
				kvs = nil
				onRefused.WalkAttributes(func(kv attribute.KeyValue) bool { kvs = append(kvs, kv); return true })
				checkExcAttrs(t, "refused record", kvs, "*github.com/pigging-go/pigging/pigging.LockError", "")
			}
		})
	}
}

// checkExcAttrs checks exception.type, and exception.message when msg is
// not "".
func checkExcAttrs(t *testing.T, what string, kvs []attribute.KeyValue, typ, msg string) {
	t.Helper()
	if v, _ := attrOf(kvs, "exception.type"); v.AsString() != typ {
		t.Errorf("%s: exception.type %q, want %q", what, v.AsString(), typ)
	}
	if v, _ := attrOf(kvs, "exception.message"); msg != "" && v.AsString() != msg {
		t.Errorf("%s: exception.message %q, want %q", what, v.AsString(), msg)
	}
}

// The run and stage spans say what the CI/CD conventions say of a pipeline
// run and its tasks, with pigging.RunState's values; the run metrics of
// those conventions are recorded beside pigging's own.
func TestCICDConventions(t *testing.T) {
	s := conventionRun(t)
	runs, stage := spansNamed(s, runSpanName("signals")), spansNamed(s, "extract orders")
	if len(runs) != 2 || len(stage) != 1 {
		t.Fatalf("%d run spans, %d stage spans", len(runs), len(stage))
	}
	for i, want := range []struct{ result, errType string }{{"failure", "_OTHER"}, {"skip", "*pigging.LockError"}} {
		sp := runs[i]
		for key, v := range map[string]string{
			"cicd.pipeline.name":   "signals",
			"cicd.pipeline.run.id": sp.SpanContext().SpanID().String(),
			"cicd.pipeline.result": want.result,
			"error.type":           want.errType,
		} {
			if got, _ := attrOf(sp.Attributes(), key); got.AsString() != v {
				t.Errorf("run span %d: %s = %q, want %q", i, key, got.AsString(), v)
			}
		}
		if _, ok := attrOf(sp.Attributes(), "pigging.run.result"); ok {
			t.Errorf("run span %d still has pigging.run.result", i)
		}
		stop := eventsOf(sp, "stop")
		if len(stop) != 1 {
			t.Fatalf("run span %d: %d stop events", i, len(stop))
		}
		if r, _ := attrOf(stop[0].Attributes, "cicd.pipeline.result"); r.AsString() != want.result {
			t.Errorf("stop event %d: cicd.pipeline.result %q, want %q", i, r.AsString(), want.result)
		}
		if et, _ := attrOf(stop[0].Attributes, "error.type"); et.AsString() != want.errType {
			t.Errorf("stop event %d: error.type %q, want %q", i, et.AsString(), want.errType)
		}
	}
	for key, v := range map[string]string{
		"cicd.pipeline.task.name":       "extract orders",
		"cicd.pipeline.task.run.id":     stage[0].SpanContext().SpanID().String(),
		"cicd.pipeline.task.run.result": "failure",
	} {
		if got, _ := attrOf(stage[0].Attributes(), key); got.AsString() != v {
			t.Errorf("stage span: %s = %q, want %q", key, got.AsString(), v)
		}
	}

	dur, ok := s.metric(t, "cicd.pipeline.run.duration").(metricdata.Histogram[float64])
	if !ok || len(dur.DataPoints) != 2 {
		t.Fatalf("cicd.pipeline.run.duration = %+v, want a failure and a skip", dur)
	}
	// error.type is there "if and only if the pipeline run failed": a
	// skip did not fail. A refused run never began to execute: its time is
	// all in the pending state.
	results, states := map[string]string{}, map[string]string{}
	for _, dp := range dur.DataPoints {
		name, _ := dp.Attributes.Value("cicd.pipeline.name")
		if name.AsString() != "signals" || dp.Count != 1 {
			t.Errorf("cicd.pipeline.run.duration point %v count %d", dp.Attributes.ToSlice(), dp.Count)
		}
		r, _ := dp.Attributes.Value("cicd.pipeline.result")
		state, _ := dp.Attributes.Value("cicd.pipeline.run.state")
		states[r.AsString()] = state.AsString()
		if et, ok := dp.Attributes.Value("error.type"); ok {
			results[r.AsString()] = et.AsString()
		} else {
			results[r.AsString()] = "(none)"
		}
	}
	if results["failure"] != "_OTHER" || results["skip"] != "(none)" {
		t.Errorf("cicd.pipeline.run.duration error.type by result: %v, want _OTHER for the failure, none for the skip", results)
	}
	if states["failure"] != "executing" || states["skip"] != "pending" {
		t.Errorf("cicd.pipeline.run.duration state by result: %v, want executing for the failure, pending for the skip", states)
	}
	active, ok := s.metric(t, "cicd.pipeline.run.active").(metricdata.Sum[int64])
	if !ok || len(active.DataPoints) != 1 || active.DataPoints[0].Value != 0 || active.IsMonotonic {
		t.Errorf("cicd.pipeline.run.active = %+v, want one point back at 0", active)
	} else if st, _ := active.DataPoints[0].Attributes.Value("cicd.pipeline.run.state"); st.AsString() != "executing" {
		t.Errorf("cicd.pipeline.run.active state %q", st.AsString())
	}
	errs, ok := s.metric(t, "cicd.pipeline.run.errors").(metricdata.Sum[int64])
	if !ok || len(errs.DataPoints) != 1 || errs.DataPoints[0].Value != 1 {
		t.Fatalf("cicd.pipeline.run.errors = %+v, want the one failed run (a skip is not an error)", errs)
	}
	if et, _ := errs.DataPoints[0].Attributes.Value("error.type"); et.AsString() != "_OTHER" {
		t.Errorf("cicd.pipeline.run.errors error.type %q", et.AsString())
	}
	// pigging's own metrics stay, for the alert rules.
	if _, ok := s.metric(t, pigging.MetricRunDuration).(metricdata.Histogram[float64]); !ok {
		t.Errorf("%s is gone", pigging.MetricRunDuration)
	}
}

// Log records are typed and say a thing once: a duration is a number of
// seconds, the start record has neither job nor trace_id beside
// pigging.job and its own trace context, the SDK sets the observed time,
// and the stop record says error.type when the run did not succeed.
func TestLogRecordsTyped(t *testing.T) {
	s := conventionRun(t)
	var start, stageEnd, stop *sdklog.Record
	for _, r := range s.logs.Records() {
		switch {
		case r.EventName() == "pigging.run.start" && start == nil:
			start = &r
		case r.EventName() == "pigging.run.stop" && stop == nil:
			stop = &r
		case r.Body().AsString() == "extract orders failed: source down":
			stageEnd = &r
		}
		if r.ObservedTimestamp().IsZero() {
			t.Errorf("record %q has no observed timestamp", r.Body().AsString())
		}
	}
	if start == nil || stageEnd == nil || stop == nil {
		t.Fatalf("records: start %v, stage end %v, stop %v", start != nil, stageEnd != nil, stop != nil)
	}
	for _, key := range []string{"job", "trace_id"} {
		if _, ok := logAttr(*start, key); ok {
			t.Errorf("start record repeats %s", key)
		}
	}
	if v, _ := logAttr(*start, "pigging.job"); v.AsString() != "signals" {
		t.Errorf("start record pigging.job = %q", v.AsString())
	}
	if !start.TraceID().IsValid() {
		t.Error("start record has no trace context")
	}
	if v, ok := logAttr(*stageEnd, "duration"); !ok || v.Type() != attribute.FLOAT64 || v.AsFloat64() < 0 || v.AsFloat64() > 60 {
		t.Errorf("stage record duration = %v (%v), want seconds as a float64", v.String(), v.Type())
	}
	if v, _ := logAttr(*stop, "error.type"); v.AsString() != "_OTHER" {
		t.Errorf("stop record error.type = %q, want _OTHER", v.AsString())
	}
	if v, _ := logAttr(*stop, "cicd.pipeline.result"); v.AsString() != "failure" {
		t.Errorf("stop record cicd.pipeline.result = %q", v.AsString())
	}
}

// WithSpanEvents(false) keeps every log record and drops their span-event
// views; an exception is then a log record, whatever the opt-in says.
func TestWithoutSpanEvents(t *testing.T) {
	t.Setenv("OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN", "")
	on := conventionRun(t)
	off := conventionRun(t, pigging.WithSpanEvents(false))
	for _, sp := range off.spans.Ended() {
		if n := len(sp.Events()); n > 0 {
			t.Errorf("span %q has %d events, want none: %v", sp.Name(), n, sp.Events())
		}
	}
	if a, b := len(on.logs.Records()), len(off.logs.Records())-len(exceptionRecords(off)); a != b {
		t.Errorf("%d log records with span events, %d (exceptions aside) without; want the same", a, b)
	}
	// The failed run's error is the stage's, written in full once: by the
	// stage.
	if n := len(exceptionRecords(off)); n != 2 {
		t.Errorf("%d exception log records without span events, want 2 (stage, refused run)", n)
	}
}

// A run's start and stop span events, a refused start's included, are
// views of its start and stop log records: for each, a record with the
// event's name in the same span carries every attribute of the event.
func TestStartStopEventsAreViewsOfLogRecords(t *testing.T) {
	s := newSignals(t)
	dir := t.TempDir()
	logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
	tr, err := pigging.New(logPath, lockPath, s.opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	second, err := pigging.New(logPath, lockPath, s.opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Start(context.Background()); !errors.Is(err, pigging.ErrLocked) {
		t.Fatalf("second Start = %v, want ErrLocked", err)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	recs := s.logs.Records()
	views := 0
	for _, sp := range s.spans.Ended() {
		for _, ev := range sp.Events() {
			if ev.Name != "start" && ev.Name != "stop" {
				continue
			}
			views++
			var rec *sdklog.Record
			for i := range recs {
				if recs[i].EventName() == "pigging.run."+ev.Name && recs[i].SpanID() == sp.SpanContext().SpanID() {
					rec = &recs[i]
				}
			}
			if rec == nil {
				t.Errorf("span %s: %q event has no pigging.run.%s log record", sp.SpanContext().SpanID(), ev.Name, ev.Name)
				continue
			}
			for _, kv := range ev.Attributes {
				if v, ok := logAttr(*rec, string(kv.Key)); !ok || v.String() != kv.Value.String() {
					t.Errorf("span %s: %q event has %s=%s, its log record %q (%v)", sp.SpanContext().SpanID(), ev.Name, kv.Key, kv.Value.String(), v.String(), ok)
				}
			}
		}
	}
	if views != 3 {
		t.Errorf("%d start and stop events, want 3: the run's two and the refused start's stop", views)
	}
}
