package middleware_test

import (
	"context"
	"iter"
	"slices"
	"strconv"
	"testing"
	"time"

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

// seqRecords is the length of the long sequence of BenchmarkSeq.
const seqRecords = 10_000

// seqVariant is one way of running a load over a sequence: unwrapped,
// through forward, or through LoadSeq.
type seqVariant struct {
	name      string
	many, one func() error // over seqRecords records, over 1
}

// perRecord times v once over seqRecords records and once over one, and
// returns the cost per record of the difference: the stage's fixed cost
// (the span) is in both and drops out.
func (v seqVariant) perRecord() float64 {
	t0 := time.Now()
	_ = v.many()
	t1 := time.Now()
	_ = v.one()
	d := t1.Sub(t0) - time.Since(t1)
	return float64(d.Nanoseconds()) / (seqRecords - 1)
}

// BenchmarkSeq compares a LoadSeq over a sequence of 10,000 records of a
// job's own struct, counted, with a recording span, against the same loop
// unwrapped, for a loop that parses a number from each record (parse) and
// for one that only adds a field (cheap). It also runs the unwrapped loop
// through one more function call per record (forward): the floor of what
// any wrapper that sees each item adds.
//
// On a shared machine the load changes faster than a benchmark runs, so
// each iteration runs every variant side by side, in a rotating order,
// and times each over 10,000 records and over 1 (see perRecord). The
// metrics are the medians over the iterations: ns/record of each variant,
// x-counted/unwrapped the ratio of the counted loop to the unwrapped one,
// ns/record-added what counting adds (ns/record-forward-added what the
// one more call adds), and allocs/record the allocations of the counted
// loop per record beyond those of the call. ns/op is that of a whole
// iteration, every variant included.
func BenchmarkSeq(b *testing.B) {
	lines := make([]line, seqRecords)
	for i := range lines {
		lines[i] = line{id: 100000 + i, amount: strconv.Itoa(1000 + 7*i)}
	}
	all, one := slices.Values(lines), slices.Values(lines[:1])
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discard{})))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	fwdAll, fwdOne := forward(all), forward(one)
	for _, l := range []struct {
		name string
		fn   func(context.Context, iter.Seq[line]) error
	}{{"parse", parseAmounts}, {"cheap", sumIDs}} {
		b.Run(l.name, func(b *testing.B) {
			load := middleware.LoadSeq("lines", l.fn, middleware.WithTracerProvider(tp))
			counted := seqVariant{"counted", func() error { return load(ctx, all) }, func() error { return load(ctx, one) }}
			vs := []seqVariant{
				{"unwrapped", func() error { return l.fn(ctx, all) }, func() error { return l.fn(ctx, one) }},
				counted,
				{"forward", func() error { return l.fn(ctx, fwdAll) }, func() error { return l.fn(ctx, fwdOne) }},
			}
			allocs := (testing.AllocsPerRun(5, func() { _ = counted.many() }) -
				testing.AllocsPerRun(5, func() { _ = counted.one() })) / (seqRecords - 1)

			per := map[string][]float64{}
			var ratios, added, fwdAdded []float64
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				got := map[string]float64{}
				for k := range vs {
					v := vs[(i+k)%len(vs)]
					got[v.name] = v.perRecord()
				}
				i++
				for name, ns := range got {
					per[name] = append(per[name], ns)
				}
				ratios = append(ratios, got["counted"]/got["unwrapped"])
				added = append(added, got["counted"]-got["unwrapped"])
				fwdAdded = append(fwdAdded, got["forward"]-got["unwrapped"])
			}
			for name, ns := range per {
				b.ReportMetric(median(ns), "ns/record-"+name)
			}
			b.ReportMetric(median(ratios), "x-counted/unwrapped")
			b.ReportMetric(median(added), "ns/record-added")
			b.ReportMetric(median(fwdAdded), "ns/record-forward-added")
			b.ReportMetric(allocs, "allocs/record")
		})
	}
}

// median returns the median of vs, which it sorts.
func median(vs []float64) float64 {
	slices.Sort(vs)
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2
	}
	return vs[len(vs)/2]
}
