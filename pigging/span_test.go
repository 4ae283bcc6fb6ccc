package pigging_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/runctx"
	"github.com/pigging-go/pigging/pigging"
)

func TestRunSpan(t *testing.T) {
	e := newUnitEnv(t)
	tr, ctx := e.start(t)
	tr.Info("loaded", "rows", 42, "ok", true, "ratio", 0.5, "source", "orders.csv", slog.Group("db", "host", "wh"))
	tr.Warn("skipped", "rows", 3)
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	if s.Name() != "RUN "+unitJob {
		t.Errorf("name = %q, want %q, the CI/CD conventions' {action} {pipeline}", s.Name(), "RUN "+unitJob)
	}
	if s.SpanKind() != trace.SpanKindServer {
		t.Errorf("kind = %v, want server, the CI/CD conventions' pipeline run span", s.SpanKind())
	}
	if s.InstrumentationScope().Name != pigging.ScopeName || s.InstrumentationScope().Version != pigging.Version() {
		t.Errorf("scope = %+v, want %s %s", s.InstrumentationScope(), pigging.ScopeName, pigging.Version())
	}
	if got, want := s.SpanContext(), trace.SpanContextFromContext(ctx); !got.Equal(want) {
		t.Errorf("Start's ctx carries span %v, want the run span %v", want, got)
	}
	if s.Parent().IsValid() {
		t.Errorf("run span has parent %v, want a root span", s.Parent())
	}
	unitWantAttr(t, "run span", s.Attributes(), "pigging.job", unitJob)
	unitWantAttr(t, "run span", s.Attributes(), "cicd.pipeline.action.name", "RUN")
	unitWantAttr(t, "run span", s.Attributes(), "pigging.log.path", e.log)
	unitWantAttr(t, "run span", s.Attributes(), "pigging.lock.path", e.lock)
	if _, ok := unitAttr(s.Attributes(), "pigging.events.dropped"); ok {
		t.Errorf("pigging.events.dropped set on a run within its budget")
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v, want Unset for a run that succeeded", s.Status())
	}
	unitEqualLines(t, "events", unitEventNames(s), []string{"start", "log", "log", "stop"})

	start := unitEvents(s, "start")[0]
	unitWantAttr(t, "start", start.Attributes, "process.pid", os.Getpid())
	if !start.Time.Equal(s.StartTime()) {
		t.Errorf("start event at %v, span at %v", start.Time, s.StartTime())
	}

	logs := unitEvents(s, "log")
	unitWantAttr(t, "log", logs[0].Attributes, "pigging.log.severity", "INFO")
	unitWantAttr(t, "log", logs[0].Attributes, "pigging.log.message", "loaded")
	unitWantAttr(t, "log", logs[0].Attributes, "source", "orders.csv")
	unitWantAttr(t, "log", logs[0].Attributes, "db.host", "wh")
	for key, want := range map[string]any{"rows": int64(42), "ok": true, "ratio": 0.5} {
		v, ok := unitAttr(logs[0].Attributes, key)
		if !ok || v.AsInterface() != want {
			t.Errorf("log event %s = %#v, want %#v (typed)", key, v.AsInterface(), want)
		}
	}
	unitWantAttr(t, "log", logs[1].Attributes, "pigging.log.severity", "WARN")
	unitWantAttr(t, "log", logs[1].Attributes, "pigging.log.message", "skipped")

	stop := unitEvents(s, "stop")[0]
	unitWantAttr(t, "stop", stop.Attributes, "cicd.pipeline.result", "success")
	d, ok := unitAttr(stop.Attributes, "pigging.duration_ms")
	if !ok || d.AsInt64() < 0 || d.AsInt64() > s.EndTime().Sub(s.StartTime()).Milliseconds() {
		t.Errorf("pigging.duration_ms = %v, span lasted %v", d.AsInterface(), s.EndTime().Sub(s.StartTime()))
	}
	if !stop.Time.Equal(s.EndTime()) {
		t.Errorf("stop event at %v, span ended at %v", stop.Time, s.EndTime())
	}
}

func TestRunOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		run        func(tr *pigging.Tracker, cancel context.CancelFunc)
		wantStatus string
		wantCode   codes.Code
		wantDesc   string
		wantType   string
	}{
		{"ok", func(tr *pigging.Tracker, _ context.CancelFunc) { tr.Error("an ERROR line alone") }, "success", codes.Unset, "", ""},
		{"failed", func(tr *pigging.Tracker, _ context.CancelFunc) { _ = tr.LogException(&unitError{"load failed"}) }, "failure", codes.Error, "load failed", "*pigging_test.unitError"},
		{"failed wrapped", func(tr *pigging.Tracker, _ context.CancelFunc) {
			_ = tr.LogException(errors.Join(&unitError{"inner"}))
		}, "failure", codes.Error, "inner", "*pigging_test.unitError"},
		{"failed twice keeps the first", func(tr *pigging.Tracker, _ context.CancelFunc) {
			_ = tr.LogException(&unitError{"first"})
			_ = tr.LogException(errors.New("second"))
		}, "failure", codes.Error, "first", "*pigging_test.unitError"},
		{"cancelled", func(_ *pigging.Tracker, cancel context.CancelFunc) { cancel() }, "cancellation", codes.Error, "context canceled", "context.Canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newUnitEnv(t)
			tr := e.tracker(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := tr.Start(ctx); err != nil {
				t.Fatal(err)
			}
			tt.run(tr, cancel)
			if err := tr.Stop(); err != nil {
				t.Fatal(err)
			}
			s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
			unitWantAttr(t, "stop", unitEvents(s, "stop")[0].Attributes, "cicd.pipeline.result", tt.wantStatus)
			if s.Status().Code != tt.wantCode || s.Status().Description != tt.wantDesc {
				t.Errorf("status = %+v, want %v %q", s.Status(), tt.wantCode, tt.wantDesc)
			}
			if tt.wantType == "" {
				if _, ok := unitAttr(s.Attributes(), "error.type"); ok {
					t.Errorf("error.type set on a run that did not fail")
				}
			} else {
				unitWantAttr(t, "run span", s.Attributes(), "error.type", tt.wantType)
			}
			exc := unitEvents(s, "exception")
			if tt.wantStatus == "failure" {
				if len(exc) == 0 {
					t.Fatal("no exception event")
				}
				unitWantAttr(t, "exception", exc[0].Attributes, "exception.type", strings.Replace(tt.wantType, "pigging_test.", "github.com/pigging-go/pigging/pigging_test.", 1))
				unitWantAttr(t, "exception", exc[0].Attributes, "exception.message", tt.wantDesc)
				if _, ok := unitAttr(exc[0].Attributes, "exception.stacktrace"); ok {
					t.Errorf("stacktrace on an error that has none")
				}
			} else if len(exc) != 0 {
				t.Errorf("exception events on a run that did not fail: %v", exc)
			}
		})
	}
}

func TestExceptionEventForPanic(t *testing.T) {
	e := newUnitEnv(t)
	tr, _ := e.start(t)
	perr := unitPanic(func() { panic(errors.New("nil map")) })
	_ = tr.LogException(perr)
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	exc := unitEvents(s, "exception")
	if len(exc) != 1 {
		t.Fatalf("got %d exception events, want 1", len(exc))
	}
	unitWantAttr(t, "exception", exc[0].Attributes, "exception.type", "*github.com/pigging-go/pigging/pigging.PanicError")
	unitWantAttr(t, "exception", exc[0].Attributes, "exception.message", "panic: nil map")
	st, ok := unitAttr(exc[0].Attributes, "exception.stacktrace")
	if !ok || st.AsString() != string(perr.Stack) || !strings.Contains(st.AsString(), "TestExceptionEventForPanic") {
		t.Errorf("exception.stacktrace = %q, want the panic's stack", st.AsString())
	}
	if s.Status().Code != codes.Error || s.Status().Description != "panic: nil map" {
		t.Errorf("status = %+v", s.Status())
	}
}

// unitLinkTo returns the span's link to sc, failing when there is none.
func unitLinkTo(t *testing.T, s sdktrace.ReadOnlySpan, sc trace.SpanContext) sdktrace.Link {
	t.Helper()
	for _, l := range s.Links() {
		if l.SpanContext.TraceID() == sc.TraceID() && l.SpanContext.SpanID() == sc.SpanID() {
			return l
		}
	}
	t.Fatalf("span %q has no link to %v/%v (links: %+v)", s.Name(), sc.TraceID(), sc.SpanID(), s.Links())
	return sdktrace.Link{}
}

func TestRefusedStartSpan(t *testing.T) {
	e := newUnitEnv(t)
	_, ctx := e.start(t)
	holder := trace.SpanContextFromContext(ctx)

	second, err := pigging.New(e.log, e.lock, pigging.WithName("second"), pigging.WithTracerProvider(e.tp), pigging.WithOutput(e.out))
	if err != nil {
		t.Fatal(err)
	}
	_, err = second.Start(context.Background())
	if !errors.Is(err, pigging.ErrLocked) {
		t.Fatalf("Start = %v, want ErrLocked", err)
	}
	s := unitOnlySpan(t, e.rec, runSpanName("second"))
	if s.SpanKind() != trace.SpanKindServer {
		t.Errorf("kind = %v, want server", s.SpanKind())
	}
	unitWantAttr(t, "refused span", s.Attributes(), "pigging.job", "second")
	unitWantAttr(t, "refused span", s.Attributes(), "cicd.pipeline.action.name", "RUN")
	unitWantAttr(t, "refused span", s.Attributes(), "pigging.lock.path", e.lock)
	unitWantAttr(t, "refused span", s.Attributes(), "error.type", "*pigging.LockError")
	unitEqualLines(t, "events", unitEventNames(s), []string{"exception", "stop"})
	exc := unitEvents(s, "exception")[0]
	unitWantAttr(t, "exception", exc.Attributes, "exception.type", "*github.com/pigging-go/pigging/pigging.LockError")
	unitWantAttr(t, "exception", exc.Attributes, "exception.message", err.Error())
	if msg, _ := unitAttr(exc.Attributes, "exception.message"); !strings.Contains(msg.AsString(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("exception.message %q does not say who holds the lock", msg.AsString())
	}
	unitWantAttr(t, "stop", unitEvents(s, "stop")[0].Attributes, "cicd.pipeline.result", "skip")
	if s.Status().Code != codes.Error || s.Status().Description != err.Error() {
		t.Errorf("status = %+v, want Error with the message", s.Status())
	}
	if len(s.Links()) != 1 {
		t.Fatalf("got %d links, want 1 to the holder", len(s.Links()))
	}
	l := unitLinkTo(t, s, holder)
	unitWantAttr(t, "link", l.Attributes, "pigging.link.reason", "lock held")
	unitWantAttr(t, "link", l.Attributes, "process.pid", os.Getpid())
}

func TestRefusedStartWithoutHolderTrace(t *testing.T) {
	// A lock left by something that names no trace: no link, but a span.
	e := newUnitEnv(t)
	if err := os.WriteFile(e.lock, []byte(`{"pid":4242,"status":"failed","error":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tracker(t).Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("Start = %v, want ErrStaleLock", err)
	}
	s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	if len(s.Links()) != 0 {
		t.Errorf("links = %+v, want none", s.Links())
	}
	unitWantAttr(t, "stop", unitEvents(s, "stop")[0].Attributes, "cicd.pipeline.result", "skip")
}

func TestStartFailureEndsSpan(t *testing.T) {
	// The span starts before the lock is taken, so that the lock is written
	// once with the trace in it; a lock store that cannot be used ends that
	// span with the error rather than leaving it open or unexported.
	e := newUnitEnv(t)
	if err := os.Mkdir(e.lock, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := e.tracker(t).Start(context.Background())
	var perr *pigging.PathError
	if !errors.As(err, &perr) || perr.Op != "lock" {
		t.Fatalf("Start = %v, want a *PathError for the lock", err)
	}
	s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	if s.EndTime().IsZero() {
		t.Fatal("the span of the failed Start was not ended")
	}
	if s.Status().Code != codes.Error || s.Status().Description != err.Error() {
		t.Errorf("status = %+v, want Error with %q", s.Status(), err)
	}
	unitWantAttr(t, "failed start", s.Attributes(), "cicd.pipeline.result", "error")
	unitWantAttr(t, "failed start", s.Attributes(), "error.type", "*pigging.PathError")
	unitEqualLines(t, "events", unitEventNames(s), []string{"exception"})
	unitNoFile(t, e.log)
}

func TestStartFailureCountsAsRunError(t *testing.T) {
	// A run that could not begin is a run that ended in error for the
	// CI/CD metrics, so that an alert on cicd.pipeline.run.errors sees a
	// job whose lock store is broken.
	s := newSignals(t)
	dir := t.TempDir()
	lock := filepath.Join(dir, "job.lock")
	if err := os.Mkdir(lock, 0o755); err != nil {
		t.Fatal(err)
	}
	tr, err := pigging.New(filepath.Join(dir, "job.log"), lock, s.opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(context.Background()); err == nil {
		t.Fatal("Start on a directory as lock succeeded")
	}
	errs, ok := s.metric(t, "cicd.pipeline.run.errors").(metricdata.Sum[int64])
	if !ok || len(errs.DataPoints) != 1 || errs.DataPoints[0].Value != 1 {
		t.Fatalf("cicd.pipeline.run.errors = %+v, want the one Start that failed", errs)
	}
	if et, _ := errs.DataPoints[0].Attributes.Value("error.type"); et.AsString() != "*pigging.PathError" {
		t.Errorf("cicd.pipeline.run.errors error.type %q", et.AsString())
	}
	dur, ok := s.metric(t, "cicd.pipeline.run.duration").(metricdata.Histogram[float64])
	if !ok || len(dur.DataPoints) != 1 {
		t.Fatalf("cicd.pipeline.run.duration = %+v, want one point", dur)
	}
	if r, _ := dur.DataPoints[0].Attributes.Value("cicd.pipeline.result"); r.AsString() != "error" {
		t.Errorf("cicd.pipeline.run.duration result %q, want error", r.AsString())
	}
}

func TestStaleLockLinks(t *testing.T) {
	e := newUnitEnv(t)
	unitFail(t, e, "boom")
	failed := unitOnlySpan(t, e.rec, runSpanName(unitJob)).SpanContext()
	e.rec.Reset()

	// Refused: the short span links to the failed run.
	if _, err := e.tracker(t).Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("Start = %v, want ErrStaleLock", err)
	}
	refused := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	l := unitLinkTo(t, refused, failed)
	unitWantAttr(t, "link", l.Attributes, "pigging.link.reason", "stale lock")
	unitWantAttr(t, "link", l.Attributes, "pigging.previous.status", "failure")
	e.rec.Reset()

	// Taken over: the new run's span links to it too.
	tr, _ := e.start(t, pigging.WithStaleLock(pigging.TakeOver))
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	run := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	l = unitLinkTo(t, run, failed)
	unitWantAttr(t, "link", l.Attributes, "pigging.link.reason", "took over stale lock")
	if run.SpanContext().TraceID() == failed.TraceID() {
		t.Errorf("the new run continued the failed run's trace")
	}
	if run.Status().Code != codes.Unset {
		t.Errorf("a run that took over and succeeded has status %+v", run.Status())
	}
}

func TestEventBudget(t *testing.T) {
	tests := []struct {
		budget, infos int
		wantLogs      int
		wantDropped   int64 // 0: no attribute
	}{
		{5, 20, 5, 15},
		{5, 5, 5, 0},
		{0, 3, 0, 3},
		{pigging.DefaultEventBudget, 150, pigging.DefaultEventBudget, 50},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.budget)+"/"+strconv.Itoa(tt.infos), func(t *testing.T) {
			e := newUnitEnv(t)
			var opts []pigging.Option
			if tt.budget != pigging.DefaultEventBudget {
				opts = append(opts, pigging.WithEventBudget(tt.budget))
			}
			tr, _ := e.start(t, opts...)
			for i := range tt.infos {
				tr.Info("record", "i", i)
			}
			_ = tr.LogException(errors.New("past the budget"))
			if err := tr.Stop(); err != nil {
				t.Fatal(err)
			}
			s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
			logs := unitEvents(s, "log")
			if len(logs) != tt.wantLogs {
				t.Errorf("got %d log events, want %d", len(logs), tt.wantLogs)
			}
			for i, ev := range logs {
				unitWantAttr(t, "log", ev.Attributes, "i", i) // the first ones are kept
			}
			for _, name := range []string{"start", "exception", "stop"} {
				if n := len(unitEvents(s, name)); n != 1 {
					t.Errorf("got %d %s events, want 1 whatever the budget", n, name)
				}
			}
			if s.DroppedEvents() != 0 {
				t.Errorf("the SDK dropped %d events", s.DroppedEvents())
			}
			dropped, ok := unitAttr(s.Attributes(), "pigging.events.dropped")
			if tt.wantDropped == 0 && ok {
				t.Errorf("pigging.events.dropped = %v, want none", dropped.AsInterface())
			}
			if tt.wantDropped != 0 && (!ok || dropped.AsInt64() != tt.wantDropped) {
				t.Errorf("pigging.events.dropped = %v, want %d", dropped.AsInterface(), tt.wantDropped)
			}
			// The file keeps every record.
			if got := unitBetween(t, unitRecords(t, e.log)); len(got) != tt.infos+1 {
				t.Errorf("log has %d records, want %d", len(got), tt.infos+1)
			}
		})
	}
}

// unitFlushCounter is a TracerProvider that counts ForceFlush calls and
// checks that each is bounded.
type unitFlushCounter struct {
	trace.TracerProvider
	flushes   atomic.Int32
	unbounded atomic.Int32
}

func (p *unitFlushCounter) ForceFlush(ctx context.Context) error {
	p.flushes.Add(1)
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 5*time.Second {
		p.unbounded.Add(1)
	}
	return nil
}

func TestForceFlush(t *testing.T) {
	e := newUnitEnv(t)
	p := &unitFlushCounter{TracerProvider: e.tp}
	tr := e.tracker(t, pigging.WithTracerProvider(p))
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.Info("work")
	if n := p.flushes.Load(); n != 0 {
		t.Errorf("flushed %d times before Stop", n)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := p.flushes.Load(); n != 1 {
		t.Errorf("Stop flushed %d times, want 1", n)
	}
	_ = tr.Stop()
	if n := p.flushes.Load(); n != 1 {
		t.Errorf("a second Stop flushed again (%d)", n)
	}
	// The spans went through the wrapped provider.
	unitOnlySpan(t, e.rec, runSpanName(unitJob))

	// A refused Start flushes its short span too.
	unitFail(t, e, "boom")
	if _, err := e.tracker(t, pigging.WithTracerProvider(p)).Start(context.Background()); err == nil {
		t.Fatal("Start over a failed run succeeded")
	}
	if n := p.flushes.Load(); n != 2 {
		t.Errorf("a refused Start flushed %d times in all, want 2", n)
	}
	if n := p.unbounded.Load(); n != 0 {
		t.Errorf("%d flushes had no deadline of at most 5s", n)
	}
}

func TestLoggerContextSpan(t *testing.T) {
	e := newUnitEnv(t)
	tr, ctx := e.start(t)
	stageCtx, stage := e.tp.Tracer("test").Start(ctx, "load warehouse")
	stageCtx = runctx.WithStage(stageCtx, &runctx.Stage{Kind: "load", Name: "warehouse"})
	tr.Logger().InfoContext(stageCtx, "inserted", "rows", 7)
	tr.Logger().InfoContext(ctx, "on the run span")
	tr.Info("plain Info")
	stage.End()
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	st := unitOnlySpan(t, e.rec, "load warehouse")
	if st.Parent().SpanID() != trace.SpanContextFromContext(ctx).SpanID() {
		t.Errorf("stage span's parent is not the run span")
	}
	logs := unitEvents(st, "log")
	if len(logs) != 1 {
		t.Fatalf("stage span has %d log events, want 1", len(logs))
	}
	unitWantAttr(t, "stage log", logs[0].Attributes, "pigging.log.message", "inserted")
	unitWantAttr(t, "stage log", logs[0].Attributes, "rows", 7)
	var msgs []string
	for _, ev := range unitEvents(unitOnlySpan(t, e.rec, runSpanName(unitJob)), "log") {
		v, _ := unitAttr(ev.Attributes, "pigging.log.message")
		msgs = append(msgs, v.AsString())
	}
	unitEqualLines(t, "run span log events", msgs, []string{"on the run span", "plain Info"})
	unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), []string{
		"INFO: inserted rows=7 stage=warehouse",
		"INFO: on the run span",
		"INFO: plain Info",
	})
}

func TestStartUnderParentSpan(t *testing.T) {
	e := newUnitEnv(t)
	parentCtx, parent := e.tp.Tracer("test").Start(context.Background(), "pipeline")
	tr := e.tracker(t)
	ctx, err := tr.Start(parentCtx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	parent.End()
	s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("run span parent = %v, want %v", s.Parent(), parent.SpanContext())
	}
	if !trace.SpanContextFromContext(ctx).Equal(s.SpanContext()) {
		t.Errorf("Start's ctx does not carry the run span")
	}
	if !strings.HasSuffix(unitTexts(unitRecords(t, e.log))[0], "trace_id="+parent.SpanContext().TraceID().String()) {
		t.Errorf("header does not name the parent's trace")
	}
}

func TestFromContext(t *testing.T) {
	e := newUnitEnv(t)
	if got := pigging.FromContext(context.Background()); got != nil {
		t.Errorf("FromContext(Background) = %v, want nil", got)
	}
	tr, ctx := e.start(t)
	if got := pigging.FromContext(ctx); got != tr {
		t.Errorf("FromContext(Start's ctx) = %v, want %v", got, tr)
	}
	child, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if got := pigging.FromContext(child); got != tr {
		t.Errorf("FromContext(child of Start's ctx) = %v, want %v", got, tr)
	}
	other := e.tracker(t)
	if _, err := other.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
	if got := pigging.FromContext(context.Background()); got != nil {
		t.Errorf("FromContext found a Tracker in a ctx Start never saw")
	}
}

func TestDeferredStopRecordsPanic(t *testing.T) {
	e := newUnitEnv(t)
	tr := e.tracker(t)
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		if _, err := tr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer tr.Stop()
		tr.Info("about to crash")
		unitCrash()
	}()
	if recovered != "index out of reach" {
		t.Fatalf("recovered %#v, want the panic to go on after Stop", recovered)
	}
	s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	exc := unitEvents(s, "exception")
	if len(exc) != 1 {
		t.Fatalf("got %d exception events, want 1", len(exc))
	}
	unitWantAttr(t, "exception", exc[0].Attributes, "exception.message", "panic: index out of reach")
	st, _ := unitAttr(exc[0].Attributes, "exception.stacktrace")
	if !strings.Contains(st.AsString(), "unitCrash") {
		t.Errorf("stacktrace does not name the function that panicked:\n%s", st.AsString())
	}
	unitWantAttr(t, "stop", unitEvents(s, "stop")[0].Attributes, "cicd.pipeline.result", "failure")
	if s.Status().Code != codes.Error {
		t.Errorf("status = %+v, want Error", s.Status())
	}
	info := unitLockInfo(t, e.lock)
	if info.Status != pigging.StateFailure || info.Error != "panic: index out of reach" {
		t.Errorf("lock = %+v, want kept as failed", info)
	}
	recs := unitRecords(t, e.log)
	got := unitBetween(t, recs)
	if len(got) != 2 || got[1] != "ERROR: panic: index out of reach" || len(recs[2].stack) == 0 {
		t.Errorf("log = %q, want the panic with its stack", got)
	}
	if err := tr.Stop(); !errors.Is(err, pigging.ErrStopped) {
		t.Errorf("Stop after the deferred Stop = %v, want ErrStopped", err)
	}
}

func unitCrash() { panic("index out of reach") }

func TestDeferredStopBeforeStartLetsThePanicGo(t *testing.T) {
	e := newUnitEnv(t)
	tr := e.tracker(t)
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		defer tr.Stop()
		panic("before start")
	}()
	if recovered != "before start" {
		t.Errorf("recovered %#v, want the panic to go on", recovered)
	}
	unitNoFile(t, e.lock)
	if n := len(e.rec.Ended()); n != 0 {
		t.Errorf("got %d spans from a Tracker that never started", n)
	}
}

func TestHandlerErrorsOutsideARun(t *testing.T) {
	e := newUnitEnv(t)
	tr := e.tracker(t)
	h := tr.Logger().Handler()
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "x", 0)
	var err error
	unitCaptureStderr(t, func() { err = h.Handle(context.Background(), rec) })
	if !errors.Is(err, pigging.ErrNotStarted) {
		t.Errorf("Handle before Start = %v, want ErrNotStarted", err)
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(context.Background(), rec); err != nil {
		t.Errorf("Handle during the run = %v", err)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	unitCaptureStderr(t, func() { err = h.WithAttrs([]slog.Attr{slog.Int("a", 1)}).Handle(context.Background(), rec) })
	if !errors.Is(err, pigging.ErrStopped) {
		t.Errorf("Handle after Stop = %v, want ErrStopped", err)
	}
}
