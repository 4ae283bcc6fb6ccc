package middleware_test

import (
	"context"
	"iter"
	"slices"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pigging-go/pigging/middleware"
)

// order is a record of a streamed load.
type order struct {
	id    int
	cents int64
}

var seqSink int64

// sumOrders is the load of the sequence benchmarks: it ranges over every
// item and keeps a sum.
func sumOrders(_ context.Context, in iter.Seq[order]) error {
	var t int64
	for o := range in {
		t += o.cents
	}
	seqSink = t
	return nil
}

// BenchmarkSeq compares a Load over a streamed iter.Seq of 1,000 records,
// counted, with a recording span, against the same loop unwrapped. Each
// also runs over a single record, so that the cost per record is the
// difference over 999 records, without the span's fixed cost: the report
// compares (wrapped-1000 - wrapped-1) with (unwrapped-1000 - unwrapped-1),
// in time and in allocations.
func BenchmarkSeq(b *testing.B) {
	middleware.RegisterSeq[order]()
	orders := make([]order, 1000)
	for i := range orders {
		orders[i] = order{id: i, cents: int64(i)}
	}
	seq := slices.Values(orders)
	one := slices.Values(orders[:1])
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discard{})))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	load := middleware.Load("orders", sumOrders, middleware.WithTracerProvider(tp))

	b.Run("unwrapped-1000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = sumOrders(ctx, seq)
		}
	})
	b.Run("unwrapped-1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = sumOrders(ctx, one)
		}
	})
	b.Run("wrapped-1000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = load(ctx, seq)
		}
	})
	b.Run("wrapped-1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = load(ctx, one)
		}
	})
}
