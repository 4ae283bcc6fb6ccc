package main

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkJob measures the whole job, as a user feels pigging's cost, on
// the shipped 4,000 orders: the example's pipeline under pigging.Run (lock,
// log, run span, four stages with their spans and log lines, the records
// the job logs) against the same four functions called one after another
// with no Tracker, no span and no log.
//
// The provider is the SDK with no span processor: every span is recorded
// as with an exporter, and nothing is exported. The warehouse takes the
// first attempt, so no retry waits. The heap is collected before each run,
// outside the timer, so that neither side inherits the other's garbage.
func BenchmarkJob(b *testing.B) {
	benchJob(b, func(b *testing.B, run func(options)) {
		for b.Loop() {
			run(options{job: "etl"})
		}
	})
}

// BenchmarkJobRows is BenchmarkJob on b.N orders generated as they are
// read (orderGen), so that no input file is written: one job per
// benchmark run, and ns/op and B/op are per order. -benchtime 1000000x
// runs a job of a million orders.
func BenchmarkJobRows(b *testing.B) {
	benchJob(b, func(b *testing.B, run func(options)) {
		run(options{job: "etl", input: newOrderGen(b.N)})
	})
}

// benchJob runs loop as two sub-benchmarks, bare and pigging, with a run
// function that runs the job once on the orders of o.
func benchJob(b *testing.B, loop func(b *testing.B, run func(o options))) {
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx := context.Background()
	prepare := func(b *testing.B, dir string, o options) options {
		b.StopTimer()
		o.out = filepath.Join(dir, "customers.ndjson")
		o.logPath = filepath.Join(dir, "etl.log")
		o.lock = filepath.Join(dir, "etl.lock")
		runtime.GC()
		b.StartTimer()
		return o
	}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		dir := b.TempDir()
		loop(b, func(o options) {
			o = prepare(b, dir, o)
			c, err := newSteps(o).run(ctx)
			if err != nil {
				b.Fatal(err)
			}
			c.print(io.Discard, o.out)
		})
	})
	b.Run("pigging", func(b *testing.B) {
		b.ReportAllocs()
		dir := b.TempDir()
		loop(b, func(o options) {
			o = prepare(b, dir, o)
			if err := runJob(ctx, o, io.Discard, tp); err != nil {
				b.Fatal(err)
			}
		})
	})
}
