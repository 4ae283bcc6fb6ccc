package middleware

import (
	"context"
	"errors"
	"iter"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/runctx"
	"github.com/pigging-go/pigging/internal/semkeys"
)

// dropSampler samples nothing, so that the SDK's spans do not record, and
// keeps what it was asked about each span.
type dropSampler struct {
	mu    sync.Mutex
	spans []sampled
}

type sampled struct {
	name   string
	parent trace.SpanID
	attrs  []attribute.KeyValue
}

func (s *dropSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	s.mu.Lock()
	s.spans = append(s.spans, sampled{
		name:   p.Name,
		parent: trace.SpanContextFromContext(p.ParentContext).SpanID(),
		attrs:  slices.Clone(p.Attributes),
	})
	s.mu.Unlock()
	return sdktrace.SamplingResult{Decision: sdktrace.Drop}
}

func (s *dropSampler) Description() string { return "drop" }

func (s *dropSampler) take() []sampled {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.spans
	s.spans = nil
	return out
}

// notRecorded returns a provider whose spans do not record, with its
// sampler, and a ctx whose span is a valid remote parent.
func notRecorded(t *testing.T) (*sdktrace.TracerProvider, *dropSampler, context.Context, trace.SpanContext) {
	t.Helper()
	ds := &dropSampler{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(ds))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3},
		SpanID:  trace.SpanID{4, 5, 6},
	})
	return tp, ds, trace.ContextWithRemoteSpanContext(context.Background(), parent), parent
}

// A stage whose span does not record, without a Tracker, still makes its
// span (name, parent, start attributes) and hands the function a ctx that
// carries it.
func TestNotRecordingSpan(t *testing.T) {
	tp, ds, ctx, parent := notRecorded(t)
	var inner trace.SpanContext
	var stage *runctx.Stage
	tr := Transform("double", func(ctx context.Context, in []int) ([]int, error) {
		inner = trace.SpanContextFromContext(ctx)
		stage = runctx.StageFrom(ctx)
		return append(in, in...), nil
	}, WithTracerProvider(tp), WithAttributes(attribute.String("team", "data")))
	out, err := tr(ctx, []int{1, 2})
	if err != nil || len(out) != 4 {
		t.Fatalf("got %v, %v", out, err)
	}
	if !inner.IsValid() || inner.TraceID() != parent.TraceID() || inner.SpanID() == parent.SpanID() || inner.IsSampled() {
		t.Errorf("span in the function's ctx: %v, parent %v", inner, parent)
	}
	if stage != nil {
		t.Errorf("stage %v in the ctx of a call that is not observed", stage)
	}
	got := ds.take()
	if len(got) != 1 {
		t.Fatalf("sampled %d spans, want 1", len(got))
	}
	s := got[0]
	if s.name != "transform double" || s.parent != parent.SpanID() {
		t.Errorf("span %q with parent %v, want %q with parent %v", s.name, s.parent, "transform double", parent.SpanID())
	}
	want := []attribute.KeyValue{semkeys.StageKind.String("transform"), semkeys.StageName.String("double"), attribute.String("team", "data")}
	if !slices.Equal(s.attrs, want) {
		t.Errorf("start attributes %v, want %v", s.attrs, want)
	}
}

// A stage whose span does not record keeps every documented behaviour:
// errors returned unchanged, panics recovered, retries with attempt spans,
// timeouts, bad input, sequences handed over.
func TestNotRecordingBehaviour(t *testing.T) {
	tp, ds, ctx, _ := notRecorded(t)

	boom := &sinkError{"boom"}
	ld := Load("l", func(ctx context.Context, in []int) error { return boom }, WithTracerProvider(tp))
	if err := ld(ctx, []int{1}); err != boom {
		t.Errorf("error: got %v, want the same value", err)
	}

	pn := Stage("p", func(ctx context.Context) error { panic("oops") }, WithTracerProvider(tp))
	var pe *PanicError
	if err := pn(ctx); !errors.As(err, &pe) || pe.Value != "oops" || len(pe.Stack) == 0 {
		t.Errorf("panic: got %v", err)
	}

	n := 0
	flaky := Stage("f", func(ctx context.Context) error {
		n++
		if n < 3 {
			return errors.New("flaky")
		}
		return nil
	}, WithTracerProvider(tp), WithRetry(3, time.Millisecond))
	ds.take()
	if err := flaky(ctx); err != nil || n != 3 {
		t.Errorf("retry: %v after %d tries", err, n)
	}
	var names []string
	for _, s := range ds.take() {
		names = append(names, s.name)
	}
	if want := []string{"stage f", "attempt 1", "attempt 2", "attempt 3"}; !slices.Equal(names, want) {
		t.Errorf("spans %v, want %v", names, want)
	}

	slow := Stage("s", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, WithTracerProvider(tp), WithTimeout(time.Millisecond))
	if err := slow(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}

	if err := Stage("nil", nil, WithTracerProvider(tp))(ctx); !errors.Is(err, ErrNilFunc) {
		t.Errorf("nil fn: %v", err)
	}
	if _, err := Extract("", func(ctx context.Context) (int, error) { return 1, nil }, WithTracerProvider(tp))(ctx); !errors.Is(err, ErrEmptyName) {
		t.Errorf("empty name: %v", err)
	}
	if err := Stage("r", func(ctx context.Context) error { return nil }, WithTracerProvider(tp), WithRetry(0, 0))(ctx); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("bad option: %v", err)
	}

	var items []int
	sink := Load("seq", func(ctx context.Context, in iter.Seq[int]) error {
		for v := range in {
			items = append(items, v)
		}
		return nil
	}, WithTracerProvider(tp))
	if err := sink(ctx, slices.Values([]int{1, 2, 3})); err != nil || !slices.Equal(items, []int{1, 2, 3}) {
		t.Errorf("sequence: %v, %v", items, err)
	}
}

// A call that is not observed (no run in ctx, a span that does not
// record) leaves the stage out of its function's ctx: a run's Logger used
// with that ctx writes the record without stage=<name>. The same stage
// called with the run's ctx adds it.
func TestNotObservedStageName(t *testing.T) {
	h := startRun(t)
	tp, _, ctx, _ := notRecorded(t)
	st := Stage("clean", func(ctx context.Context) error {
		h.tracker.Logger().InfoContext(ctx, "inside")
		return nil
	}, WithTracerProvider(tp))
	if err := st(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st(h.ctx); err != nil {
		t.Fatal(err)
	}
	log := h.stop()
	checkLog(t, log[1:4], []string{
		"INFO: inside",
		"INFO: inside stage=clean",
		"INFO: stage clean done duration=D stage=clean",
	})
}
