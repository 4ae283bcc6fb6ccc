//go:build unix

package main

// Benchmarks of "pigging run"'s line pump, each beside the floor it is
// judged against, as sub-benchmarks of one Benchmark so that one run
// measures them all. One op is one line the command prints.
//
// The floor is one write(2) per line to an O_APPEND file of the record
// pigging writes for it, preformatted: what any log that keeps every line
// at once must at least do. The pump and the command pay that, plus reading
// the pipe, passing the bytes through (to /dev/null, one write per read)
// and formatting the record. The provider is the SDK with a span processor
// that drops ended spans, and each Tracker has spent its event budget before
// the timer starts: the steady state of a long run.
//
// Besides the time per line, each reports cpu-ns/op, the CPU time this
// process used per line: for the command, that is pigging's own cost,
// without the command's, which shares the machine's cores with it.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pigging-go/pigging/internal/logfmt"
	"github.com/pigging-go/pigging/pigging"
)

// benchText is the line the command prints: 18 bytes and a newline.
const benchText = "copied row 1234567"

// stdioBuffer is how much a command's C library buffers before writing to
// a pipe: each write the benchmarks' command makes holds this much, in
// whole lines.
const stdioBuffer = 4096

// benchDrop is a span processor that drops every span.
type benchDrop struct{}

func (benchDrop) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (benchDrop) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (benchDrop) Shutdown(context.Context) error                  { return nil }
func (benchDrop) ForceFlush(context.Context) error                { return nil }

func benchProvider(b *testing.B) *sdktrace.TracerProvider {
	b.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(benchDrop{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// devNull opens the null device for the pass-through, so that passing
// through costs the write(2) it costs on a terminal or a pipe.
func devNull(b *testing.B) *os.File {
	b.Helper()
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return f
}

// benchTracker starts a Tracker in a fresh directory and spends its event
// budget.
func benchTracker(b *testing.B) *pigging.Tracker {
	b.Helper()
	dir := b.TempDir()
	t, err := pigging.New(filepath.Join(dir, "bench.log"), filepath.Join(dir, "bench.lock"),
		pigging.WithName("bench"), pigging.WithTracerProvider(benchProvider(b)), pigging.WithOutput(io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := t.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = t.Stop() })
	for range pigging.DefaultEventBudget {
		t.Info(benchText, "stream", "stdout")
	}
	return t
}

// writeLines writes n lines of benchText to w in writes of stdioBuffer
// bytes, as a command printing through a buffered stdout does, then closes
// w.
func writeLines(w io.WriteCloser, n int) error {
	line := benchText + "\n"
	per := stdioBuffer / len(line)
	chunk := bytes.Repeat([]byte(line), per)
	for n > 0 {
		k := min(n, per)
		if _, err := w.Write(chunk[:k*len(line)]); err != nil {
			w.Close()
			return err
		}
		n -= k
	}
	return w.Close()
}

func BenchmarkPump(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "floor.log"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		// The record pigging writes for the line, with the time of the run.
		rec := logfmt.AppendTime(nil, time.Now())
		rec = append(rec, " | INFO: "+benchText+" stream=stdout\n"...)
		b.SetBytes(int64(len(benchText) + 1))
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime(b)
		for range b.N {
			if _, err := f.Write(rec); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})

	// tracker is the record alone: Tracker.Info of the line, as the pump
	// calls it, without the pipe, the pass-through and the line splitting.
	// The pump's own cost is what it adds to this.
	b.Run("tracker", func(b *testing.B) {
		t := benchTracker(b)
		b.SetBytes(int64(len(benchText) + 1))
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime(b)
		for range b.N {
			t.Info(benchText, "stream", "stdout")
		}
		reportCPU(b, cpu)
	})

	b.Run("pump", func(b *testing.B) {
		t := benchTracker(b)
		p := newPump("stdout", t.Info, devNull(b))
		pr, pw, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		defer pr.Close()
		werr := make(chan error, 1)
		b.SetBytes(int64(len(benchText) + 1))
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime(b)
		go func() { werr <- writeLines(pw, b.N) }()
		n, err := p.ReadFrom(pr)
		b.StopTimer()
		reportCPU(b, cpu) // the writer's cost included: it is in this process
		if err != nil || n != int64(b.N*(len(benchText)+1)) {
			b.Fatalf("ReadFrom = %d, %v; want %d bytes", n, err, b.N*(len(benchText)+1))
		}
		if err := <-werr; err != nil {
			b.Fatal(err)
		}
	})

	// command is the whole of "pigging run" in this process around a
	// command that prints b.N lines: starting the command and the Tracker,
	// and stopping them, are spread over the lines.
	b.Run("command", func(b *testing.B) {
		dir := b.TempDir()
		c := &cli{stdout: devNull(b), stderr: &syncWriter{w: io.Discard}, tp: benchProvider(b)}
		script := fmt.Sprintf(`BEGIN { for (i = 0; i < %d; i++) print "%s" }`, b.N, benchText)
		peak := sampleHeap()
		b.SetBytes(int64(len(benchText) + 1))
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime(b)
		code := c.main([]string{"run", "--log", filepath.Join(dir, "bench.log"), "--lock", filepath.Join(dir, "bench.lock"), "--", "awk", script})
		b.StopTimer()
		if code != 0 {
			b.Fatalf("exit status %d", code)
		}
		reportCPU(b, cpu)
		b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
		if info, err := os.Stat(filepath.Join(dir, "bench.log")); err != nil || info.Size() < int64(b.N*len(benchText)) {
			b.Fatalf("log file: %v, %d bytes for %d lines", err, info.Size(), b.N)
		}
	})
}

// cpuTime returns the CPU time this process has used, in user and kernel
// mode, in all its threads; not that of its children.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time this process used per op since start:
// for the command, pigging's own cost per line, without the command's.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// sampleHeap collects garbage, then samples the bytes of live and
// unswept heap objects every millisecond until the function it returns is
// called, which returns the highest sample above the first.
func sampleHeap() func() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	base := read()
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var high uint64
		for {
			high = max(high, read())
			select {
			case <-stop:
				done <- high
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		return max(<-done, base) - base
	}
}

// TestBenchmarkLineLength checks that the floor writes as many bytes per
// line as the Tracker does for the same line, so the comparison is fair.
func TestBenchmarkLineLength(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "len")
	r := runInProcess(t, "run", "--log", log, "--lock", lock, "--", "echo", benchText)
	if r.code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	floor := len(logfmt.AppendTime(nil, time.Now())) + len(" | INFO: "+benchText+" stream=stdout\n")
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if bytes.Contains(line, []byte(benchText)) {
			if len(line) != floor {
				t.Errorf("the Tracker wrote %d bytes for the line, the floor writes %d", len(line), floor)
			}
			return
		}
	}
	t.Errorf("no record of the line in the log:\n%s", data)
}
