package middleware

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// sinkError is an error type of its own, so that error.type names it.
type sinkError struct{ msg string }

func (e *sinkError) Error() string { return e.msg }

// checkStage checks a stage span's name, parent, kind attributes and status.
func checkStage(t *testing.T, s, parent sdktrace.ReadOnlySpan, kind, name string, status codes.Code) {
	t.Helper()
	if want := kind + " " + name; s.Name() != want {
		t.Errorf("span name %q, want %q", s.Name(), want)
	}
	if parent != nil && s.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("%s: parent %s, want %s (%s)", s.Name(), s.Parent().SpanID(), parent.SpanContext().SpanID(), parent.Name())
	}
	if s.SpanKind() != trace.SpanKindInternal {
		t.Errorf("%s: kind %v, want internal", s.Name(), s.SpanKind())
	}
	a := attrs(s)
	if a["pigging.stage.kind"].AsString() != kind || a["pigging.stage.name"].AsString() != name {
		t.Errorf("%s: stage attributes %v", s.Name(), s.Attributes())
	}
	if s.Status().Code != status {
		t.Errorf("%s: status %v %q, want %v", s.Name(), s.Status().Code, s.Status().Description, status)
	}
	if got := s.InstrumentationScope().Name; got != ScopeName {
		t.Errorf("%s: scope %q, want %q", s.Name(), got, ScopeName)
	}
}

func checkException(t *testing.T, s sdktrace.ReadOnlySpan, typ, msg string, stack bool) {
	t.Helper()
	ex := eventsNamed(s, "exception")
	if len(ex) != 1 {
		t.Fatalf("%s: %d exception events, want 1: %v", s.Name(), len(ex), s.Events())
	}
	a := eventAttrs(ex[0])
	if got := a["exception.type"].AsString(); got != typ {
		t.Errorf("%s: exception.type %q, want %q", s.Name(), got, typ)
	}
	if got := a["exception.message"].AsString(); got != msg {
		t.Errorf("%s: exception.message %q, want %q", s.Name(), got, msg)
	}
	if _, ok := a["exception.stacktrace"]; ok != stack {
		t.Errorf("%s: exception.stacktrace present %v, want %v", s.Name(), ok, stack)
	}
	if got := attrs(s)["error.type"].AsString(); got != typ {
		t.Errorf("%s: error.type %q, want %q", s.Name(), got, typ)
	}
}

// checkFailedOnly checks that s, a span whose error was recorded as an
// exception on a child span, has error.type and status Error with msg,
// but no exception event of its own.
func checkFailedOnly(t *testing.T, s sdktrace.ReadOnlySpan, typ, msg string) {
	t.Helper()
	if ex := eventsNamed(s, "exception"); len(ex) != 0 {
		t.Errorf("%s: %d exception events, want none (the attempt has it): %v", s.Name(), len(ex), ex)
	}
	if got := attrs(s)["error.type"].AsString(); got != typ {
		t.Errorf("%s: error.type %q, want %q", s.Name(), got, typ)
	}
	if s.Status().Code != codes.Error || s.Status().Description != msg {
		t.Errorf("%s: status %v %q, want Error %q", s.Name(), s.Status().Code, s.Status().Description, msg)
	}
}

func checkLog(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTransformSuccess(t *testing.T) {
	h := startRun(t)
	clean := Transform("clean", func(ctx context.Context, in []string) ([]string, error) {
		h.tracker.Logger().InfoContext(ctx, "skipped rows", "rows", 1)
		return in[:2], nil
	}, WithAttributes(attribute.String("source", "test")))
	out, err := clean(h.ctx, []string{"a", "b", "c"})
	if err != nil || len(out) != 2 {
		t.Fatalf("clean = %v, %v", out, err)
	}
	log := h.stop()
	checkLog(t, log, []string{
		"INFO: Starting logging job=job trace_id=T",
		"INFO: skipped rows rows=1 stage=clean",
		"INFO: transform clean done duration=D records_in=3 records_out=2 stage=clean",
		"INFO: TOTAL SCRIPT TIME: D",
	})

	spans := h.rec.Ended()
	run := h.runSpan()
	s := spanNamed(t, spans, "transform clean")
	checkStage(t, s, run, "transform", "clean", codes.Unset)
	a := attrs(s)
	if a["pigging.records.in"].AsInt64() != 3 || a["pigging.records.out"].AsInt64() != 2 {
		t.Errorf("records: %v", s.Attributes())
	}
	if a["source"].AsString() != "test" {
		t.Errorf("WithAttributes missing: %v", s.Attributes())
	}
	if _, ok := a["pigging.attempts"]; ok {
		t.Errorf("pigging.attempts without WithRetry: %v", s.Attributes())
	}
	// The record logged with the stage's ctx lands on the stage span.
	logs := eventsNamed(s, "log")
	if len(logs) != 2 {
		t.Fatalf("stage span log events: %v", s.Events())
	}
	if got := eventAttrs(logs[0])["pigging.log.message"].AsString(); got != "skipped rows" {
		t.Errorf("first log event %q", got)
	}
	if got := eventAttrs(logs[1])["pigging.log.message"].AsString(); got != "transform clean done" {
		t.Errorf("second log event %q", got)
	}
	for _, e := range eventsNamed(run, "log") {
		if msg := eventAttrs(e)["pigging.log.message"].AsString(); strings.Contains(msg, "skipped") || strings.Contains(msg, "clean") {
			t.Errorf("stage record on the run span: %q", msg)
		}
	}
	if len(childrenOf(spans, s)) != 0 {
		t.Errorf("stage without retry has children: %v", spanNames(childrenOf(spans, s)))
	}
}

func TestExtractAndStageSuccess(t *testing.T) {
	h := startRun(t)
	extract := Extract("orders", func(ctx context.Context) (map[string]int, error) {
		return map[string]int{"a": 1, "b": 2}, nil
	})
	vacuum := Stage("vacuum", func(ctx context.Context) error { return nil })
	if _, err := extract(h.ctx); err != nil {
		t.Fatal(err)
	}
	if err := vacuum(h.ctx); err != nil {
		t.Fatal(err)
	}
	log := h.stop()
	checkLog(t, log[1:3], []string{
		"INFO: extract orders done duration=D records_out=2 stage=orders",
		"INFO: stage vacuum done duration=D stage=vacuum",
	})
	spans := h.rec.Ended()
	run := h.runSpan()
	checkStage(t, spanNamed(t, spans, "extract orders"), run, "extract", "orders", codes.Unset)
	checkStage(t, spanNamed(t, spans, "stage vacuum"), run, "stage", "vacuum", codes.Unset)
	if got := attrs(spanNamed(t, spans, "extract orders"))["pigging.records.out"].AsInt64(); got != 2 {
		t.Errorf("records.out %d", got)
	}
}

func TestLoadError(t *testing.T) {
	h := startRun(t)
	boom := &sinkError{"connection refused"}
	load := Load("warehouse", func(ctx context.Context, rows []int) error { return boom })
	err := load(h.ctx, []int{1, 2, 3})
	if err != error(boom) {
		t.Fatalf("load returned %v (%T), want the same error value", err, err)
	}
	log := h.stop()
	checkLog(t, log, []string{
		"INFO: Starting logging job=job trace_id=T",
		"ERROR: load warehouse failed: connection refused duration=D records_in=3 stage=warehouse",
		"INFO: TOTAL SCRIPT TIME: D",
	})
	spans := h.rec.Ended()
	run := h.runSpan()
	s := spanNamed(t, spans, "load warehouse")
	checkStage(t, s, run, "load", "warehouse", codes.Error)
	checkException(t, s, "*middleware.sinkError", "connection refused", false)
	if s.Status().Description != "connection refused" {
		t.Errorf("status description %q", s.Status().Description)
	}
	// A failed stage does not fail the run by itself.
	if run.Status().Code == codes.Error {
		t.Errorf("run span status error after a stage error that never reached LogException")
	}
}

func panicky(ctx context.Context, in []int) ([]int, error) {
	last := len(in)
	return in[last:], fmt.Errorf("%d", in[last]) // index out of range
}

func TestTransformPanic(t *testing.T) {
	h := startRun(t)
	tr := Transform("explode", panicky)
	out, err := tr(h.ctx, []int{1})
	if out != nil {
		t.Errorf("out = %v, want the zero value", out)
	}
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want *PanicError", err, err)
	}
	var rerr interface{ RuntimeError() }
	if !errors.As(err, &rerr) {
		t.Errorf("PanicError does not unwrap to the runtime error: %#v", pe.Value)
	}
	if !strings.Contains(string(pe.Stack), "middleware.panicky") {
		t.Errorf("stack does not name the panicking function:\n%s", pe.Stack)
	}
	h.stop()

	b := readRaw(t, h.logPath)
	if !strings.Contains(b, "ERROR: transform explode failed: panic: runtime error: index out of range [1] with length 1 duration=") {
		t.Errorf("no ERROR line for the panic:\n%s", b)
	}
	if !strings.Contains(b, "\n\tgithub.com/pigging-go/pigging/middleware.panicky(") {
		t.Errorf("log lacks the stack as tab-continued lines:\n%s", b)
	}
	s := spanNamed(t, h.rec.Ended(), "transform explode")
	checkStage(t, s, h.runSpan(), "transform", "explode", codes.Error)
	checkException(t, s, "*pigging.PanicError", err.Error(), true)
	st := eventAttrs(eventsNamed(s, "exception")[0])["exception.stacktrace"].AsString()
	if st != string(pe.Stack) {
		t.Errorf("exception.stacktrace is not the whole stack")
	}
}

func TestPanicWithValue(t *testing.T) {
	tp, _ := newProvider(t)
	wantErr := errors.New("inner")
	tr := Stage("p", func(ctx context.Context) error { panic(fmt.Errorf("wrapped: %w", wantErr)) }, WithTracerProvider(tp))
	err := tr(context.Background())
	if !errors.Is(err, wantErr) {
		t.Errorf("errors.Is(panic error, value) false: %v", err)
	}
	tr2 := Stage("q", func(ctx context.Context) error { panic(42) }, WithTracerProvider(tp), WithRetry(3, 0))
	calls := 0
	tr3 := Stage("r", func(ctx context.Context) error { calls++; panic("again") }, WithTracerProvider(tp), WithRetry(3, 0))
	var pe *PanicError
	if err := tr2(context.Background()); !errors.As(err, &pe) || pe.Value != 42 {
		t.Errorf("panic(42): %v", err)
	}
	_ = tr3(context.Background())
	if calls != 1 {
		t.Errorf("a panic was retried: %d calls", calls)
	}
}

// A panic under WithRetry is recorded once on the trace, with its stack,
// on the attempt span; the stage span has status Error and error.type;
// the stage's ERROR line is the one place the log has the stack.
func TestPanicWithRetryRecordedOnce(t *testing.T) {
	h := startRun(t)
	st := Stage("explode", func(ctx context.Context) error { panic("kaboom") }, WithRetry(3, 0))
	err := st(h.ctx)
	pe, ok := err.(*PanicError)
	if !ok {
		t.Fatalf("err %v (%T), want *PanicError", err, err)
	}
	h.stop()
	spans := h.rec.Ended()
	s := spanNamed(t, spans, "stage explode")
	checkStage(t, s, h.runSpan(), "stage", "explode", codes.Error)
	checkFailedOnly(t, s, "*pigging.PanicError", "panic: kaboom")
	kids := childrenOf(spans, s)
	if len(kids) != 1 {
		t.Fatalf("attempts %v, want 1 (a panic is not retried)", spanNames(kids))
	}
	checkException(t, kids[0], "*pigging.PanicError", "panic: kaboom", true)
	if got := eventAttrs(eventsNamed(kids[0], "exception")[0])["exception.stacktrace"].AsString(); got != string(pe.Stack) {
		t.Errorf("attempt's exception.stacktrace is not the panic's stack")
	}
	raw := readRaw(t, h.logPath)
	if n := strings.Count(raw, "ERROR: "); n != 1 {
		t.Errorf("%d ERROR lines, want 1:\n%s", n, raw)
	}
	if n := strings.Count(raw, "\n\truntime/debug.Stack("); n != 1 {
		t.Errorf("the stack is in the log %d times, want 1:\n%s", n, raw)
	}
}

func readRaw(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRetrySucceedsOnThird(t *testing.T) {
	h := startRun(t)
	calls := 0
	load := Load("warehouse", func(ctx context.Context, rows []int) error {
		calls++
		if calls < 3 {
			return &sinkError{fmt.Sprintf("flaky %d", calls)}
		}
		return nil
	}, WithRetry(3, time.Millisecond))
	if err := load(h.ctx, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	log := h.stop()
	checkLog(t, log, []string{
		"INFO: Starting logging job=job trace_id=T",
		"WARN: load warehouse attempt 1 of 3 failed, retrying: flaky 1 attempt=1 stage=warehouse",
		"WARN: load warehouse attempt 2 of 3 failed, retrying: flaky 2 attempt=2 stage=warehouse",
		"INFO: load warehouse done duration=D records_in=2 attempts=3 stage=warehouse",
		"INFO: TOTAL SCRIPT TIME: D",
	})
	spans := h.rec.Ended()
	s := spanNamed(t, spans, "load warehouse")
	checkStage(t, s, h.runSpan(), "load", "warehouse", codes.Unset)
	if got := attrs(s)["pigging.attempts"].AsInt64(); got != 3 {
		t.Errorf("pigging.attempts %d", got)
	}
	kids := childrenOf(spans, s)
	if len(kids) != 3 {
		t.Fatalf("attempt spans %v", spanNames(kids))
	}
	for i, a := range kids {
		n := i + 1
		if a.Name() != fmt.Sprintf("attempt %d", n) || attrs(a)["pigging.attempt"].AsInt64() != int64(n) {
			t.Errorf("attempt %d: %s %v", n, a.Name(), a.Attributes())
		}
		want := codes.Error
		if n == 3 {
			want = codes.Unset
		}
		if a.Status().Code != want {
			t.Errorf("attempt %d status %v, want %v", n, a.Status().Code, want)
		}
		if n < 3 {
			checkException(t, a, "*middleware.sinkError", fmt.Sprintf("flaky %d", n), false)
			if len(eventsNamed(a, "log")) != 1 {
				t.Errorf("attempt %d: the WARN is not on its span: %v", n, a.Events())
			}
		}
	}
}

func TestRetryExhausted(t *testing.T) {
	h := startRun(t)
	var last error
	calls := 0
	load := Load("warehouse", func(ctx context.Context, rows []int) error {
		calls++
		last = &sinkError{fmt.Sprintf("down %d", calls)}
		return last
	}, WithRetry(3, time.Millisecond))
	err := load(h.ctx, nil)
	if err != last || calls != 3 {
		t.Fatalf("err %v after %d calls, want the last attempt's error after 3", err, calls)
	}
	log := h.stop()
	checkLog(t, log[1:4], []string{
		"WARN: load warehouse attempt 1 of 3 failed, retrying: down 1 attempt=1 stage=warehouse",
		"WARN: load warehouse attempt 2 of 3 failed, retrying: down 2 attempt=2 stage=warehouse",
		"ERROR: load warehouse failed: down 3 duration=D records_in=0 attempts=3 stage=warehouse",
	})
	spans := h.rec.Ended()
	s := spanNamed(t, spans, "load warehouse")
	checkStage(t, s, h.runSpan(), "load", "warehouse", codes.Error)
	// The exception is recorded once, on the attempt that raised it; the
	// stage span carries its status and error.type.
	checkFailedOnly(t, s, "*middleware.sinkError", "down 3")
	kids := childrenOf(spans, s)
	if len(kids) != 3 {
		t.Fatalf("attempt spans %v", spanNames(kids))
	}
	for i, a := range kids {
		checkException(t, a, "*middleware.sinkError", fmt.Sprintf("down %d", i+1), false)
		if a.Status().Code != codes.Error {
			t.Errorf("%s status %v", a.Name(), a.Status().Code)
		}
	}
}

func TestTimeout(t *testing.T) {
	h := startRun(t)
	var deadline bool
	slow := Stage("slow", func(ctx context.Context) error {
		_, deadline = ctx.Deadline()
		<-ctx.Done()
		return fmt.Errorf("waiting for the sink: %w", ctx.Err())
	}, WithTimeout(20*time.Millisecond))
	err := slow(h.ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !deadline {
		t.Fatalf("err %v, deadline %v", err, deadline)
	}
	h.stop()
	s := spanNamed(t, h.rec.Ended(), "stage slow")
	checkStage(t, s, h.runSpan(), "stage", "slow", codes.Error)
	checkException(t, s, "context.DeadlineExceeded", "waiting for the sink: context deadline exceeded", false)
	a := attrs(s)
	if !a["pigging.timed_out"].AsBool() || a["pigging.timeout_ms"].AsInt64() != 20 {
		t.Errorf("timeout attributes: %v", s.Attributes())
	}
}

func TestTimeoutPerAttempt(t *testing.T) {
	tp, rec := newProvider(t)
	calls := 0
	st := Stage("slow", func(ctx context.Context) error {
		calls++
		if calls == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}, WithTimeout(10*time.Millisecond), WithRetry(2, 0), WithTracerProvider(tp))
	if err := st(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	a1 := spanNamed(t, spans, "attempt 1")
	if !attrs(a1)["pigging.timed_out"].AsBool() {
		t.Errorf("attempt 1 not marked timed out: %v", a1.Attributes())
	}
	checkException(t, a1, "context.DeadlineExceeded", "context deadline exceeded", false)
	if _, ok := attrs(spanNamed(t, spans, "stage slow"))["pigging.timed_out"]; ok {
		t.Errorf("stage that succeeded marked timed out")
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	h := startRun(t)
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	attemptErr := &sinkError{"refused"}
	calls := 0
	load := Load("warehouse", func(ctx context.Context, rows []int) error {
		calls++
		time.AfterFunc(20*time.Millisecond, cancel)
		return attemptErr
	}, WithRetry(3, time.Hour))
	began := time.Now()
	err := load(ctx, []int{1})
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the wait did not stop with ctx: %v", d)
	}
	if calls != 1 {
		t.Errorf("%d calls, want 1", calls)
	}
	if !errors.Is(err, ctx.Err()) || !errors.Is(err, attemptErr) {
		t.Fatalf("err %v: errors.Is(ctx.Err()) %v, errors.Is(attempt error) %v", err, errors.Is(err, ctx.Err()), errors.Is(err, attemptErr))
	}
	log := h.stop()
	checkLog(t, log[1:3], []string{
		"WARN: load warehouse attempt 1 of 3 failed, retrying: refused attempt=1 stage=warehouse",
		"ERROR: load warehouse failed: load warehouse: gave up before attempt 2 of 3: context canceled (last attempt: refused) duration=D records_in=1 stage=warehouse",
	})
	spans := h.rec.Ended()
	s := spanNamed(t, spans, "load warehouse")
	checkStage(t, s, h.runSpan(), "load", "warehouse", codes.Error)
	// The error returned is made by the stage, not by an attempt: the
	// stage span records it; the attempt span has its own.
	checkException(t, s, "context.Canceled", err.Error(), false)
	if kids := childrenOf(spans, s); len(kids) != 1 {
		t.Errorf("attempt spans %v, want 1", spanNames(kids))
	} else {
		checkException(t, kids[0], "*middleware.sinkError", "refused", false)
	}
}

func TestCancelledBeforeRetry(t *testing.T) {
	tp, _ := newProvider(t)
	ctx, cancel := context.WithCancel(context.Background())
	load := Load("w", func(ctx context.Context, rows []int) error {
		cancel()
		return ctx.Err()
	}, WithRetry(5, 0), WithTracerProvider(tp))
	err := load(ctx, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestNoTracker(t *testing.T) {
	tp, rec := newProvider(t)
	parentCtx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	boom := errors.New("boom")
	ex := Extract("e", func(ctx context.Context) ([]int, error) { return []int{1}, nil }, WithTracerProvider(tp))
	ld := Load("l", func(ctx context.Context, in []int) error { return boom }, WithTracerProvider(tp), WithRetry(2, 0))
	pn := Stage("p", func(ctx context.Context) error { panic("no tracker") }, WithTracerProvider(tp))
	if _, err := ex(parentCtx); err != nil {
		t.Fatal(err)
	}
	if err := ld(parentCtx, []int{1}); err != boom {
		t.Fatalf("load: %v", err)
	}
	var pe *PanicError
	if err := pn(parentCtx); !errors.As(err, &pe) {
		t.Fatalf("panic: %v", err)
	}
	parent.End()
	spans := rec.Ended()
	p := spanNamed(t, spans, "parent")
	checkStage(t, spanNamed(t, spans, "extract e"), p, "extract", "e", codes.Unset)
	l := spanNamed(t, spans, "load l")
	checkStage(t, l, p, "load", "l", codes.Error)
	checkFailedOnly(t, l, "_OTHER", "boom")
	if kids := childrenOf(spans, l); len(kids) != 2 {
		t.Errorf("attempts: %v", spanNames(kids))
	} else {
		checkException(t, kids[1], "_OTHER", "boom", false)
	}
	checkStage(t, spanNamed(t, spans, "stage p"), p, "stage", "p", codes.Error)
}

func TestProviderChoice(t *testing.T) {
	h := startRun(t)
	other, otherRec := newProvider(t)
	st := Stage("s", func(ctx context.Context) error { return nil }, WithTracerProvider(other))
	if err := st(h.ctx); err != nil {
		t.Fatal(err)
	}
	if err := st(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.stop()
	if got := len(otherRec.Ended()); got != 1 {
		t.Errorf("WithTracerProvider got %d spans, want 1 (the call without a run)", got)
	}
	checkStage(t, spanNamed(t, h.rec.Ended(), "stage s"), h.runSpan(), "stage", "s", codes.Unset)
}

// sliceProvider is a provider that is a struct holding a slice: == on two
// of them panics.
type sliceProvider struct {
	trace.TracerProvider
	calls []int
	n     *int
}

func (p sliceProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	*p.n++
	return p.TracerProvider.Tracer(name, opts...)
}

// The provider is asked for the tracer on every call, and one whose values
// cannot be compared never makes a call panic.
func TestTracerOfValueProvider(t *testing.T) {
	tp, rec := newProvider(t)
	n := 0
	sp := sliceProvider{TracerProvider: tp, calls: []int{1}, n: &n}
	st := Stage("s", func(ctx context.Context) error { return nil }, WithTracerProvider(sp))
	for range 3 {
		if err := st(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n != 3 {
		t.Errorf("Tracer asked %d times in 3 calls, want 3", n)
	}
	if got := len(rec.Ended()); got != 3 {
		t.Errorf("%d spans, want 3", got)
	}
}

func TestBadInput(t *testing.T) {
	tp, rec := newProvider(t)
	for _, tc := range []struct {
		name string
		call func() error
		want error
		msg  string
	}{
		{"nil extract", func() error {
			_, err := Extract[[]int]("e", nil, WithTracerProvider(tp))(context.Background())
			return err
		}, ErrNilFunc, "extract e: fn: middleware: function is nil"},
		{"nil transform", func() error {
			_, err := Transform[int, int]("t", nil, WithTracerProvider(tp))(context.Background(), 1)
			return err
		}, ErrNilFunc, "transform t: fn"},
		{"nil load", func() error {
			return Load[int]("l", nil, WithTracerProvider(tp))(context.Background(), 1)
		}, ErrNilFunc, "load l: fn"},
		{"nil stage", func() error {
			return Stage("s", nil, WithTracerProvider(tp))(context.Background())
		}, ErrNilFunc, "stage s: fn"},
		{"empty name", func() error {
			return Stage("", func(context.Context) error { panic("called") }, WithTracerProvider(tp))(context.Background())
		}, ErrEmptyName, "stage: name: middleware: stage name is empty"},
		{"zero attempts", func() error {
			return Stage("s", func(context.Context) error { panic("called") }, WithRetry(0, 0), WithTracerProvider(tp))(context.Background())
		}, ErrInvalidOption, "WithRetry: attempts is 0"},
		{"negative backoff", func() error {
			return Stage("s", func(context.Context) error { panic("called") }, WithRetry(2, -time.Second), WithTracerProvider(tp))(context.Background())
		}, ErrInvalidOption, "WithRetry: backoff is -1s"},
		{"negative timeout", func() error {
			return Stage("s", func(context.Context) error { panic("called") }, WithTimeout(-1), WithTracerProvider(tp))(context.Background())
		}, ErrInvalidOption, "WithTimeout: -1ns is negative"},
		{"nil option and nil ctx", func() error {
			return Stage("s", func(context.Context) error { return nil }, nil, WithTracerProvider(tp))(nil)
		}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err %q does not say %q", err, tc.msg)
			}
		})
	}
	for _, s := range rec.Ended() {
		if s.Name() == "stage s" && len(s.Events()) == 0 && s.Status().Code != codes.Error {
			continue // the call that succeeded
		}
		if s.Status().Code != codes.Error {
			t.Errorf("%s: status %v for bad input", s.Name(), s.Status().Code)
		}
	}
}

func TestBadInputLogged(t *testing.T) {
	h := startRun(t)
	_ = Stage("x", nil)(h.ctx)
	log := h.stop()
	checkLog(t, log[1:2], []string{"ERROR: stage x failed: stage x: fn: middleware: function is nil duration=D stage=x"})
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		base time.Duration
		n    int
		want time.Duration
	}{
		{0, 2, 0},
		{100 * time.Millisecond, 2, 100 * time.Millisecond},
		{100 * time.Millisecond, 3, 200 * time.Millisecond},
		{100 * time.Millisecond, 5, 800 * time.Millisecond},
		{100 * time.Millisecond, 40, MaxBackoff},
		{time.Minute, 2, MaxBackoff},
		{time.Duration(1 << 62), 200, MaxBackoff},
	} {
		if got := backoff(tc.base, tc.n); got != tc.want {
			t.Errorf("backoff(%v, %d) = %v, want %v", tc.base, tc.n, got, tc.want)
		}
	}
	for range 1000 {
		if d := fullJitter(10 * time.Millisecond); d < 0 || d > 10*time.Millisecond {
			t.Fatalf("fullJitter out of range: %v", d)
		}
	}
	if fullJitter(0) != 0 {
		t.Error("fullJitter(0) != 0")
	}
}

func TestConcurrentCalls(t *testing.T) {
	h := startRun(t)
	tr := Transform("double", func(ctx context.Context, in []int) ([]int, error) {
		out := make([]int, len(in))
		for i, v := range in {
			out[i] = 2 * v
		}
		return out, nil
	}, WithRetry(2, 0))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			out, err := tr(h.ctx, []int{i})
			if err != nil || out[0] != 2*i {
				t.Errorf("call %d: %v %v", i, out, err)
			}
		})
	}
	wg.Wait()
	log := h.stop()
	if len(log) != 18 {
		t.Errorf("%d log lines, want 18:\n%s", len(log), strings.Join(log, "\n"))
	}
}
