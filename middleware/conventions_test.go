package middleware

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/pigging-go/pigging/internal/pigtest"
)

// withGlobalLogs sets the global LoggerProvider to one that records, for
// the test only.
func withGlobalLogs(t *testing.T) *pigtest.LogSink {
	sink := &pigtest.LogSink{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(sink)))
	prev := otel.GetLoggerProvider()
	otel.SetLoggerProvider(lp)
	t.Cleanup(func() {
		otel.SetLoggerProvider(prev)
		_ = lp.Shutdown(context.Background())
	})
	return sink
}

// Outside a run, a failing stage follows OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN
// too: under "logs" its exception is a log record of the global
// LoggerProvider, in the stage span, and not a span event.
func TestExceptionOptInWithoutTracker(t *testing.T) {
	for _, tc := range []struct {
		env               string
		wantSpan, wantLog bool
	}{{"", true, false}, {"logs", false, true}, {"logs/dup", true, true}} {
		t.Run("opt-in="+tc.env, func(t *testing.T) {
			t.Setenv("OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN", tc.env)
			sink := withGlobalLogs(t)
			tp, rec := newProvider(t)
			ld := Load("warehouse", func(context.Context, []int) error { return errors.New("refused") }, WithTracerProvider(tp))
			if err := ld(context.Background(), []int{1}); err == nil {
				t.Fatal("load returned nil")
			}
			s := spanNamed(t, rec.Ended(), "load warehouse")
			if got := len(eventsNamed(s, "exception")) == 1; got != tc.wantSpan {
				t.Errorf("exception span event %v, want %v", got, tc.wantSpan)
			}
			var excs []sdklog.Record
			for _, r := range sink.Records() {
				if r.EventName() == "exception" {
					excs = append(excs, r)
				}
			}
			if got := len(excs) == 1; got != tc.wantLog {
				t.Fatalf("%d exception log records, want them %v", len(excs), tc.wantLog)
			}
			if !tc.wantLog {
				return
			}
			r := excs[0]
			if r.SpanID() != s.SpanContext().SpanID() {
				t.Errorf("exception record in span %v, want the stage's %v", r.SpanID(), s.SpanContext().SpanID())
			}
			want := map[string]string{"exception.type": "*errors.errorString", "exception.message": "refused", "pigging.stage.name": "warehouse"}
			r.WalkAttributes(func(kv attribute.KeyValue) bool {
				if w, ok := want[string(kv.Key)]; ok && kv.Value.AsString() != w {
					t.Errorf("%s = %q, want %q", kv.Key, kv.Value.AsString(), w)
				}
				delete(want, string(kv.Key))
				return true
			})
			if len(want) > 0 {
				t.Errorf("exception record lacks %v", want)
			}
		})
	}
}

// A stage span is a CI/CD pipeline task run: its name, its run's id (the
// span id) and its result, in pigging.RunState's values.
func TestTaskRunConventions(t *testing.T) {
	tp, rec := newProvider(t)
	opts := []Option{WithTracerProvider(tp)}
	ok := Stage("ok", func(context.Context) error { return nil }, opts...)
	bad := Stage("bad", func(context.Context) error { return errors.New("no") }, opts...)
	slow := Stage("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, append(opts, WithTimeout(time.Millisecond))...)
	stopped := Stage("stopped", func(context.Context) error { return context.Canceled }, opts...)
	ctx := context.Background()
	_ = ok(ctx)
	_ = bad(ctx)
	_ = slow(ctx)
	_ = stopped(ctx)
	for name, result := range map[string]string{"stage ok": "success", "stage bad": "failure", "stage slow": "timeout", "stage stopped": "cancellation"} {
		s := spanNamed(t, rec.Ended(), name)
		a := attrs(s)
		if got := a["cicd.pipeline.task.name"].AsString(); got != name {
			t.Errorf("%s: cicd.pipeline.task.name %q", name, got)
		}
		if got := a["cicd.pipeline.task.run.id"].AsString(); got != s.SpanContext().SpanID().String() {
			t.Errorf("%s: cicd.pipeline.task.run.id %q, want the span id", name, got)
		}
		if got := a["cicd.pipeline.task.run.result"].AsString(); got != result {
			t.Errorf("%s: cicd.pipeline.task.run.result %q, want %q", name, got, result)
		}
	}
}

// Under "logs" an exception log record goes where the span event would:
// one for each failed attempt, in the attempt's span, and none repeated for
// the stage.
func TestExceptionOptInLogsEachAttempt(t *testing.T) {
	t.Setenv("OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN", "logs")
	sink := withGlobalLogs(t)
	tp, rec := newProvider(t)
	n := 0
	ld := Load("warehouse", func(context.Context, []int) error {
		n++
		if n < 3 {
			return errors.New("flaky")
		}
		return nil
	}, WithTracerProvider(tp), WithRetry(3, 0))
	if err := ld(context.Background(), []int{1}); err != nil {
		t.Fatal(err)
	}
	s := spanNamed(t, rec.Ended(), "load warehouse")
	kids := childrenOf(rec.Ended(), s)
	if len(kids) != 3 {
		t.Fatalf("attempts: %v", spanNames(kids))
	}
	var got []string
	for _, r := range sink.Records() {
		if r.EventName() != "exception" {
			continue
		}
		for _, k := range kids {
			if r.SpanID() == k.SpanContext().SpanID() {
				got = append(got, k.Name())
			}
		}
	}
	if !slices.Equal(got, []string{"attempt 1", "attempt 2"}) {
		t.Errorf("exception log records in %v, want attempt 1 and attempt 2 (records: %d)", got, len(sink.Records()))
	}
	for _, sp := range append(kids, s) {
		if len(eventsNamed(sp, "exception")) != 0 {
			t.Errorf("%s has an exception span event under logs", sp.Name())
		}
	}
}
