package pigging_test

// Benchmarks of pigging's hot paths, each beside the baseline it is judged
// against, as sub-benchmarks of one Benchmark so that one run measures both.
// "go run ./internal/cmd/benchreport" runs them and prints the ratios; CI
// smoke-runs them with a tiny -benchtime.
//
// Every Tracker here writes "copied batch rows=3", so its line is the same
// 52 bytes as the preformatted line of the floor. The provider is the SDK
// with its default span limits and a span processor that drops ended spans,
// so the figures are pigging's cost and the SDK's, not an exporter's.

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/pigging-go/pigging/internal/logfmt"
	"github.com/pigging-go/pigging/pigging"
)

const (
	benchMsg = "copied batch"
	// benchLine is what Tracker.Info(benchMsg, "rows", 3) writes: 52 bytes.
	benchLine = "2026-11-27 20:17:06.123 | INFO: copied batch rows=3\n"
)

// benchDrop is a span processor that drops every span: the spans are
// recorded as with any exporter, and nothing is exported.
type benchDrop struct{}

func (benchDrop) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (benchDrop) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (benchDrop) Shutdown(context.Context) error                  { return nil }
func (benchDrop) ForceFlush(context.Context) error                { return nil }

// benchProvider returns an SDK provider with the SDK's default span limits,
// or with no limit on events when unlimited is set.
func benchProvider(b *testing.B, unlimited bool) *sdktrace.TracerProvider {
	b.Helper()
	limits := sdktrace.NewSpanLimits()
	if unlimited {
		limits.EventCountLimit = -1
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(benchDrop{}),
		sdktrace.WithRawSpanLimits(limits),
	)
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// benchFile opens a fresh O_APPEND file in b's temporary directory, as
// Start opens the log.
func benchFile(b *testing.B, name string) *os.File {
	b.Helper()
	f, err := os.OpenFile(filepath.Join(b.TempDir(), name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return f
}

// benchStart starts a Tracker on fresh files in dir. Its Stop is left to
// the caller, or to the cleanup when the caller does not stop it.
func benchStart(b *testing.B, dir string, tp trace.TracerProvider, opts ...pigging.Option) *pigging.Tracker {
	b.Helper()
	opts = append([]pigging.Option{
		pigging.WithName("bench"),
		pigging.WithTracerProvider(tp),
		pigging.WithOutput(io.Discard),
	}, opts...)
	t, err := pigging.New(filepath.Join(dir, "bench.log"), filepath.Join(dir, "bench.lock"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := t.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = t.Stop() })
	return t
}

// benchPastBudget starts a Tracker and spends its event budget, so that
// further records only go to the file: the steady state of a long run.
func benchPastBudget(b *testing.B, tp trace.TracerProvider) *pigging.Tracker {
	b.Helper()
	t := benchStart(b, b.TempDir(), tp)
	for range pigging.DefaultEventBudget {
		t.Info(benchMsg, "rows", 3)
	}
	return t
}

// benchFormatWrite formats the line Tracker.Info writes for benchMsg into
// buf, reused, and writes it to f: what any logger that writes each record
// at once must at least do.
func benchFormatWrite(b *testing.B, f *os.File, buf []byte) []byte {
	buf = logfmt.AppendTime(buf[:0], time.Now())
	buf = append(buf, " | INFO: "...)
	buf = logfmt.AppendText(buf, benchMsg)
	buf = append(buf, " rows=3\n"...)
	if _, err := f.Write(buf); err != nil {
		b.Fatal(err)
	}
	return buf
}

// BenchmarkInfo measures Tracker.Info against the floor: one write(2) of the
// preformatted line to an O_APPEND file.
//
//   - floor: (*os.File).Write of benchLine.
//   - format-write: the line formatted into a reused buffer, then written;
//     what any logger that writes each record at once must at least do.
//   - past-budget: Tracker.Info once the run's event budget is spent: the
//     line only, the steady state of a run that logs a million lines.
//   - format-write-event: format-write, then one AddEvent of the record's
//     three attributes, made once outside the loop, on an SDK span started
//     anew every 100 events (a Tracker is stopped and started too, as in
//     with-events, so that both pay the same for it): the least that any
//     Log which writes the line and adds it as a span event can cost, the
//     SDK's part included.
//   - with-events: Tracker.Info while it adds a "log" event to the run span,
//     in the configuration a job has: SDK provider with default limits,
//     default event budget. Only a run's first 100 records become events, so
//     the run is stopped and a new one started, with the timer stopped, every
//     100 records: every timed call formats, writes and adds an event, and
//     the span never reaches the SDK's limit of 128 events.
func BenchmarkInfo(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		b.ReportAllocs()
		f := benchFile(b, "floor.log")
		line := []byte(benchLine)
		for b.Loop() {
			if _, err := f.Write(line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("format-write", func(b *testing.B) {
		b.ReportAllocs()
		f := benchFile(b, "format.log")
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = benchFormatWrite(b, f, buf)
		}
	})
	b.Run("format-write-event", func(b *testing.B) {
		b.ReportAllocs()
		f := benchFile(b, "event.log")
		tp := benchProvider(b, false)
		tracer := tp.Tracer("bench")
		dir := b.TempDir()
		t := benchStart(b, dir, tp)
		ctx := context.Background()
		_, span := tracer.Start(ctx, "run")
		event := []trace.EventOption{trace.WithAttributes(
			attribute.String("pigging.log.severity", "INFO"),
			attribute.String("pigging.log.message", benchMsg),
			attribute.Int64("rows", 3),
		)}
		buf := make([]byte, 0, 512)
		n := 0
		for b.Loop() {
			if n == pigging.DefaultEventBudget {
				b.StopTimer()
				span.End()
				if err := t.Stop(); err != nil {
					b.Fatal(err)
				}
				t = benchStart(b, dir, tp)
				_, span = tracer.Start(ctx, "run")
				n = 0
				b.StartTimer()
			}
			buf = benchFormatWrite(b, f, buf)
			span.AddEvent("log", event...)
			n++
		}
		span.End()
	})
	b.Run("past-budget", func(b *testing.B) {
		b.ReportAllocs()
		t := benchPastBudget(b, benchProvider(b, false))
		for b.Loop() {
			t.Info(benchMsg, "rows", 3)
		}
	})
	b.Run("with-events", func(b *testing.B) {
		b.ReportAllocs()
		tp := benchProvider(b, false)
		dir := b.TempDir()
		t := benchStart(b, dir, tp)
		n := 0
		for b.Loop() {
			if n == pigging.DefaultEventBudget {
				b.StopTimer()
				if err := t.Stop(); err != nil {
					b.Fatal(err)
				}
				t = benchStart(b, dir, tp)
				n = 0
				b.StartTimer()
			}
			t.Info(benchMsg, "rows", 3)
			n++
		}
	})
}

// BenchmarkLogger measures the slog path, Tracker.Logger().Info past the
// event budget, against slog.TextHandler writing to the same kind of file.
func BenchmarkLogger(b *testing.B) {
	b.Run("slog-text", func(b *testing.B) {
		b.ReportAllocs()
		l := slog.New(slog.NewTextHandler(benchFile(b, "text.log"), nil))
		for b.Loop() {
			l.Info(benchMsg, "rows", 3)
		}
	})
	b.Run("logger", func(b *testing.B) {
		b.ReportAllocs()
		l := benchPastBudget(b, benchProvider(b, false)).Logger()
		for b.Loop() {
			l.Info(benchMsg, "rows", 3)
		}
	})
}

// benchLineRE matches one whole record of the benchmarks.
var benchLineRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| INFO: copied batch rows=3$`)

// BenchmarkConcurrent measures throughput (ns/op is wall time per record)
// of one goroutine logging and of 64 goroutines logging at once into the
// same Tracker, past the event budget. Afterwards it reads the log back and
// fails on any torn or missing line (reported as torn-lines).
func BenchmarkConcurrent(b *testing.B) {
	const goroutines = 64
	b.Run("1-goroutine", func(b *testing.B) {
		b.ReportAllocs()
		t := benchPastBudget(b, benchProvider(b, false))
		for b.Loop() {
			t.Info(benchMsg, "rows", 3)
		}
		b.StopTimer()
		benchCheckLines(b, t, b.N)
	})
	b.Run("64-goroutines", func(b *testing.B) {
		b.ReportAllocs()
		t := benchPastBudget(b, benchProvider(b, false))
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		for range goroutines {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					t.Info(benchMsg, "rows", 3)
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		benchCheckLines(b, t, b.N)
	})
}

// benchCheckLines reads t's log and checks that it holds the header, the
// budget's records and n more, each one whole line.
func benchCheckLines(b *testing.B, t *pigging.Tracker, n int) {
	b.Helper()
	f, err := os.Open(t.LogPath())
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	lines, torn := 0, 0
	for sc.Scan() {
		lines++
		if lines == 1 && bytes.Contains(sc.Bytes(), []byte("INFO: Starting logging")) {
			continue
		}
		if !benchLineRE.Match(sc.Bytes()) {
			torn++
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	if want := 1 + pigging.DefaultEventBudget + n; lines != want {
		b.Errorf("log has %d lines, want %d", lines, want)
	}
	if torn > 0 {
		b.Errorf("%d torn lines", torn)
	}
	b.ReportMetric(float64(torn), "torn-lines")
}

// BenchmarkSpan measures bare spans, the baselines of a stage call: an SDK
// span, an SDK span around one Tracker.Info (past the budget), and a noop
// span; and, for the with-events figure, the SDK's own cost of one AddEvent
// with a log record's three attributes (a fresh span every 100 events).
func BenchmarkSpan(b *testing.B) {
	ctx := context.Background()
	b.Run("sdk-bare", func(b *testing.B) {
		b.ReportAllocs()
		tracer := benchProvider(b, false).Tracer("bench")
		for b.Loop() {
			_, span := tracer.Start(ctx, "transform clean")
			span.End()
		}
	})
	b.Run("sdk-info", func(b *testing.B) {
		b.ReportAllocs()
		tp := benchProvider(b, false)
		t := benchPastBudget(b, tp)
		tracer := tp.Tracer("bench")
		for b.Loop() {
			_, span := tracer.Start(ctx, "transform clean")
			t.Info(benchMsg, "rows", 3)
			span.End()
		}
	})
	b.Run("sdk-add-event", func(b *testing.B) {
		b.ReportAllocs()
		tracer := benchProvider(b, false).Tracer("bench")
		_, span := tracer.Start(ctx, "run")
		n := 0
		for b.Loop() {
			if n == pigging.DefaultEventBudget {
				b.StopTimer()
				span.End()
				_, span = tracer.Start(ctx, "run")
				n = 0
				b.StartTimer()
			}
			span.AddEvent("log", trace.WithAttributes(
				attribute.String("pigging.log.severity", "INFO"),
				attribute.String("pigging.log.message", benchMsg),
				attribute.Int64("rows", 3),
			))
			n++
		}
		span.End()
	})
	b.Run("noop-bare", func(b *testing.B) {
		b.ReportAllocs()
		tracer := noop.NewTracerProvider().Tracer("bench")
		for b.Loop() {
			_, span := tracer.Start(ctx, "transform clean")
			span.End()
		}
	})
}

// BenchmarkStartStop measures a whole run with no records: New, Start (run
// span, lock file written, fresh log) and Stop (TOTAL SCRIPT TIME, the run
// history's entry, fsyncs, lock removed, span ended and flushed), against
// two baselines:
//
//   - fsync: create a file, write a line, fsync, close.
//   - files: the least a durable run does with the same three files: create
//     the lock file with its JSON, fsync it and its directory; create the
//     log with its line, fsync it; append the run's line to the history,
//     fsync it; remove the lock and fsync the directory.
func BenchmarkStartStop(b *testing.B) {
	b.Run("files", func(b *testing.B) {
		b.ReportAllocs()
		dir := b.TempDir()
		logPath, lockPath := filepath.Join(dir, "bench.log"), filepath.Join(dir, "bench.lock")
		holder := []byte(`{"pid":4242,"host":"vm","job":"bench","started":"2026-11-27T20:17:06.123456789Z","status":"running"}` + "\n")
		entry := []byte(`{"job":"bench","host":"vm","pid":4242,"started":"2026-11-27T20:17:06.123456789Z","ended":"2026-11-27T20:17:06.125456789Z","duration_s":0.002,"result":"success","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","log":"/var/log/bench.log","keep":100}` + "\n")
		line := []byte(benchLine)
		for b.Loop() {
			benchWriteSync(b, lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, holder)
			benchSyncDir(b, dir)
			benchWriteSync(b, logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, line)
			benchWriteSync(b, lockPath+".history", os.O_WRONLY|os.O_CREATE|os.O_APPEND, entry)
			if err := os.Remove(lockPath); err != nil {
				b.Fatal(err)
			}
			benchSyncDir(b, dir)
		}
	})
	b.Run("fsync", func(b *testing.B) {
		b.ReportAllocs()
		path := filepath.Join(b.TempDir(), "sync.log")
		line := []byte(benchLine)
		for b.Loop() {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(line); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("start-stop", func(b *testing.B) {
		b.ReportAllocs()
		tp := benchProvider(b, false)
		dir := b.TempDir()
		logPath, lockPath := filepath.Join(dir, "bench.log"), filepath.Join(dir, "bench.lock")
		ctx := context.Background()
		for b.Loop() {
			t, err := pigging.New(logPath, lockPath, pigging.WithName("bench"), pigging.WithTracerProvider(tp), pigging.WithOutput(io.Discard))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := t.Start(ctx); err != nil {
				b.Fatal(err)
			}
			if err := t.Stop(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchWriteSync opens path with flag, writes data, fsyncs and closes it.
func benchWriteSync(b *testing.B, path string, flag int, data []byte) {
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// benchSyncDir fsyncs the directory dir, as pigging does after it creates,
// renames or removes its lock file there.
func benchSyncDir(b *testing.B, dir string) {
	d, err := os.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMemory measures how much the live heap grows over one run of b.N
// Tracker.Info calls (run it with -benchtime 1000000x for the target of a
// million), reported as heap-MiB: with the SDK's default limit of 128
// events per span, and with no limit, where only the event budget keeps
// the span small.
func BenchmarkMemory(b *testing.B) {
	for _, bc := range []struct {
		name      string
		unlimited bool
	}{{"default-limit", false}, {"unlimited", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			t := benchStart(b, b.TempDir(), benchProvider(b, bc.unlimited))
			before := benchLiveHeap()
			for b.Loop() {
				t.Info(benchMsg, "rows", 3)
			}
			// The run is still going: its span and everything it holds are live.
			growth := int64(benchLiveHeap()) - int64(before)
			runtime.KeepAlive(t)
			b.ReportMetric(float64(max(growth, 0))/(1<<20), "heap-MiB")
		})
	}
}

// benchLiveHeap returns the bytes of live heap objects after a full GC.
func benchLiveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
