package otelpig_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/otelpig"
)

// childOf starts and ends a span from ctx on a provider of its own and
// returns what was recorded.
func childOf(t *testing.T, ctx context.Context) sdktrace.ReadOnlySpan {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	_, span := tp.Tracer("otelpig-test").Start(ctx, "run")
	span.End()
	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("recorded %d spans, want 1", len(ended))
	}
	return ended[0]
}

func TestContextFromEnvRemoteParent(t *testing.T) {
	isolate(t)
	// Without Setup, and with a global propagator that knows nothing.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())

	parentTrace, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	parentSpan, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	t.Setenv("TRACEPARENT", "00-"+parentTrace.String()+"-"+parentSpan.String()+"-01")
	t.Setenv("TRACESTATE", "scheduler=nightly")
	t.Setenv("BAGGAGE", "tenant=acme,batch=42")

	ctx := otelpig.ContextFromEnv(context.Background())

	remote := trace.SpanContextFromContext(ctx)
	if !remote.IsRemote() || !remote.IsSampled() {
		t.Errorf("ctx span context remote=%v sampled=%v, want both true", remote.IsRemote(), remote.IsSampled())
	}
	s := childOf(t, ctx)
	if got := s.SpanContext().TraceID(); got != parentTrace {
		t.Errorf("trace id = %v, want the parent's %v", got, parentTrace)
	}
	if got := s.Parent().SpanID(); got != parentSpan {
		t.Errorf("parent span id = %v, want %v", got, parentSpan)
	}
	if !s.Parent().IsRemote() {
		t.Errorf("parent is not remote")
	}
	if got := s.SpanContext().TraceState().Get("scheduler"); got != "nightly" {
		t.Errorf("tracestate scheduler = %q, want nightly", got)
	}
	bag := baggage.FromContext(ctx)
	if got := bag.Member("tenant").Value(); got != "acme" {
		t.Errorf("baggage tenant = %q, want acme", got)
	}
	if got := bag.Member("batch").Value(); got != "42" {
		t.Errorf("baggage batch = %q, want 42", got)
	}
}

func TestContextFromEnvNoParent(t *testing.T) {
	for _, traceparent := range []string{"", "not-a-traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		t.Run(traceparent, func(t *testing.T) {
			isolate(t)
			if traceparent != "" {
				t.Setenv("TRACEPARENT", traceparent)
			}
			ctx := otelpig.ContextFromEnv(context.Background())
			if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
				t.Fatalf("ContextFromEnv gave a parent %v from TRACEPARENT=%q", sc, traceparent)
			}
			s := childOf(t, ctx)
			if s.Parent().IsValid() {
				t.Errorf("span has parent %v, want a new root", s.Parent())
			}
			if !s.SpanContext().TraceID().IsValid() {
				t.Errorf("root span has no trace id")
			}
		})
	}
}

func TestContextFromEnvKeepsCtxValues(t *testing.T) {
	isolate(t)
	t.Setenv("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	type key struct{}
	ctx := otelpig.ContextFromEnv(context.WithValue(context.Background(), key{}, "kept"))
	if ctx.Value(key{}) != "kept" {
		t.Errorf("ContextFromEnv dropped the values of the ctx it was given")
	}
}
