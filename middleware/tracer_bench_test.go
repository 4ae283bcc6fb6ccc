package middleware

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

var tracerSink trace.Tracer

// BenchmarkTracer compares the stage's tracer cache with asking the
// provider for the tracer on every call, options built once, for the SDK
// provider, the noop one and the global one (no provider set).
func BenchmarkTracer(b *testing.B) {
	sdk := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	for _, p := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"sdk", sdk}, {"noop", noop.NewTracerProvider()}, {"global", otel.GetTracerProvider()}} {
		s := newStage(kindStage, "s", false, nil)
		b.Run(p.name+"/cache", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tracerSink = s.tracerFor(p.tp)
			}
		})
		b.Run(p.name+"/tracer", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tracerSink = p.tp.Tracer(ScopeName, tracerOpts...)
			}
		})
	}
}
