package middleware_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/pigging-go/pigging/middleware"
	"github.com/pigging-go/pigging/pigging"
)

// discard is a span exporter that drops what it gets.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

func double(_ context.Context, in []int) ([]int, error) {
	out := in[:0:0]
	return append(out, len(in)*2), nil
}

// BenchmarkTransform compares a Transform call with what it replaces: a
// span started and ended by hand (plus one Tracker.Info line when a Tracker
// is in ctx), with the SDK and with the noop provider. With the SDK,
// same-fields is the least a hand-written stage costs that records what
// the wrapper records: the span's kind and name at its start, the record
// counts at its end (the SDK copies and deduplicates a span's attributes),
// and the same line, with duration and stage.
func BenchmarkTransform(b *testing.B) {
	in := []int{1, 2, 3}

	b.Run("sdk", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discard{})))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		dir := b.TempDir()
		t, err := pigging.New(filepath.Join(dir, "b.log"), filepath.Join(dir, "b.lock"),
			pigging.WithName("bench"), pigging.WithTracerProvider(tp), pigging.WithOutput(io.Discard))
		if err != nil {
			b.Fatal(err)
		}
		ctx, err := t.Start(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = t.Stop() })

		b.Run("bare", func(b *testing.B) {
			tracer := tp.Tracer("bench")
			b.ReportAllocs()
			for b.Loop() {
				sctx, span := tracer.Start(ctx, "transform double")
				out, _ := double(sctx, in)
				t.Info("transform double done", "records_in", len(in), "records_out", len(out))
				span.End()
			}
		})
		b.Run("same-fields", func(b *testing.B) {
			tracer := tp.Tracer("bench")
			start := []trace.SpanStartOption{trace.WithAttributes(
				attribute.String("pigging.stage.kind", "transform"), attribute.String("pigging.stage.name", "double"))}
			b.ReportAllocs()
			for b.Loop() {
				sctx, span := tracer.Start(ctx, "transform double", start...)
				begun := time.Now()
				out, _ := double(sctx, in)
				span.SetAttributes(attribute.Int("pigging.records.in", len(in)), attribute.Int("pigging.records.out", len(out)))
				t.Info("transform double done", "duration", time.Since(begun), "records_in", len(in), "records_out", len(out), "stage", "double")
				span.End()
			}
		})
		b.Run("wrapped", func(b *testing.B) {
			tr := middleware.Transform("double", double)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = tr(ctx, in)
			}
		})
	})

	b.Run("noop", func(b *testing.B) {
		tp := noop.NewTracerProvider()
		ctx := context.Background()
		b.Run("bare", func(b *testing.B) {
			tracer := tp.Tracer("bench")
			b.ReportAllocs()
			for b.Loop() {
				sctx, span := tracer.Start(ctx, "transform double")
				_, _ = double(sctx, in)
				span.End()
			}
		})
		b.Run("wrapped", func(b *testing.B) {
			tr := middleware.Transform("double", double, middleware.WithTracerProvider(tp))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = tr(ctx, in)
			}
		})
	})
}
