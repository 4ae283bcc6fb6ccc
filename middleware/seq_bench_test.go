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

// line is a job's own record as a reader gives it: an id, and an amount
// still in text.
type line struct {
	id     int
	amount string
}

var seqSink int64

// parseAmounts is a load whose loop does a little real work: it parses
// each record's amount with strconv.
func parseAmounts(_ context.Context, in iter.Seq[line]) error {
	var t int64
	for l := range in {
		v, err := strconv.ParseInt(l.amount, 10, 64)
		if err != nil {
			return err
		}
		t += v
	}
	seqSink = t
	return nil
}

// sumIDs is a load whose loop does the least it can with a record: it adds
// a field. What the count adds per record is then as large as it gets
// against the loop's own cost.
func sumIDs(_ context.Context, in iter.Seq[line]) error {
	var t int64
	for l := range in {
		t += int64(l.id)
	}
	seqSink = t
	return nil
}

// forward hands the items of seq over through one more function call, and
// does nothing else: the least any wrapper that sees each item adds.
func forward[V any](seq iter.Seq[V]) iter.Seq[V] {
	return func(yield func(V) bool) {
		seq(func(v V) bool { return yield(v) })
	}
}

// seqRecords is the length of the long sequence of BenchmarkSeq: long
// enough that the noise of the span's fixed cost, a few microseconds, is
// a fraction of a nanosecond per record.
const seqRecords = 100_000

// BenchmarkSeq compares a LoadSeq over a sequence of 100,000 records of a
// job's own struct, counted, with a recording span, against the same loop
// unwrapped, for a loop that parses a number from each record (parse) and
// for one that only adds a field (cheap). Each also runs over a single
// record, so that the cost per record is the difference over the other
// 99,999, without the span's fixed cost: the report compares
// (wrapped-100000 - wrapped-1) with (unwrapped-100000 - unwrapped-1), in
// time and in allocations. For the cheap loop, forward-100000 and
// forward-1 run the unwrapped loop through one more function call per
// record: the floor of what counting can add.
func BenchmarkSeq(b *testing.B) {
	lines := make([]line, seqRecords)
	for i := range lines {
		lines[i] = line{id: 100000 + i, amount: strconv.Itoa(1000 + 7*(i%1000))}
	}
	seqs := []struct {
		name string
		seq  iter.Seq[line]
	}{{strconv.Itoa(seqRecords), slices.Values(lines)}, {"1", slices.Values(lines[:1])}}
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discard{})))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	for _, l := range []struct {
		name    string
		fn      func(context.Context, iter.Seq[line]) error
		forward bool
	}{{"parse", parseAmounts, false}, {"cheap", sumIDs, true}} {
		load := middleware.LoadSeq("lines", l.fn, middleware.WithTracerProvider(tp))
		for _, s := range seqs {
			b.Run(l.name+"/unwrapped-"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = l.fn(ctx, s.seq)
				}
			})
			if l.forward {
				fwd := forward(s.seq)
				b.Run(l.name+"/forward-"+s.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						_ = l.fn(ctx, fwd)
					}
				})
			}
			b.Run(l.name+"/wrapped-"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = load(ctx, s.seq)
				}
			})
		}
	}
}
