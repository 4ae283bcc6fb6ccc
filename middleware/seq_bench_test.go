package middleware_test

import (
	"context"
	"iter"
	"slices"
	"strconv"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pigging-go/pigging/middleware"
)

// order is a record of a streamed load.
type order struct {
	id    int
	cents int64
}

var (
	seqSink int64
	seqBuf  []byte
)

// encodeOrders is a load that writes each record it pulls, as a CSV line
// into a reused buffer: the least a load that writes its records does.
func encodeOrders(_ context.Context, in iter.Seq[order]) error {
	b := seqBuf[:0]
	for o := range in {
		b = strconv.AppendInt(b, int64(o.id), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, o.cents, 10)
		b = append(b, '\n')
	}
	seqBuf = b
	return nil
}

// sumOrders is a load that only adds a field of each record: the worst
// case for the count, whose cost per record is then of the same size as
// the loop's.
func sumOrders(_ context.Context, in iter.Seq[order]) error {
	var t int64
	for o := range in {
		t += o.cents
	}
	seqSink = t
	return nil
}

// BenchmarkSeq compares a Load over a streamed iter.Seq of 1,000 records,
// counted, with a recording span, against the same loop unwrapped, for a
// load that encodes each record and for one that only adds a field. Each
// also runs over a single record, so that the cost per record is the
// difference over 999 records, without the span's fixed cost: the report
// compares (wrapped-1000 - wrapped-1) with (unwrapped-1000 - unwrapped-1),
// in time and in allocations.
func BenchmarkSeq(b *testing.B) {
	middleware.RegisterSeq[order]()
	orders := make([]order, 1000)
	for i := range orders {
		orders[i] = order{id: 100000 + i, cents: int64(1000 + i)}
	}
	seqs := []struct {
		name string
		seq  iter.Seq[order]
	}{{"1000", slices.Values(orders)}, {"1", slices.Values(orders[:1])}}
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discard{})))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	for _, l := range []struct {
		name string
		fn   func(context.Context, iter.Seq[order]) error
	}{{"encode", encodeOrders}, {"sum", sumOrders}} {
		load := middleware.Load("orders", l.fn, middleware.WithTracerProvider(tp))
		for _, s := range seqs {
			b.Run(l.name+"/unwrapped-"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = l.fn(ctx, s.seq)
				}
			})
			b.Run(l.name+"/wrapped-"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = load(ctx, s.seq)
				}
			})
		}
	}
}
