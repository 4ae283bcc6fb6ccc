//go:build unix

package reliability_test

// Long runs: a million log calls in one run keep the heap bounded however
// many records there are, with the SDK at its default span limits and with
// no limit on events at all, while the file keeps every record and the span
// says how many log events it dropped. It is not skipped in short mode: the
// default test command runs it, with or without the race detector.

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pigging-go/pigging/pigging"
)

// longRunRecords is the record count of the long run. Under the race
// detector it takes about 8 µs a record instead of 2, some 16 s for both
// cases: still well within the budget, so the count stays the same.
const longRunRecords = 1_000_000

// heapBudget is the most the live heap may grow during a long run.
const heapBudget = 16 << 20

func TestReliabilityLongRunMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs of a million records, measuring the heap: runs in the full test command")
	}
	n := longRunRecords
	unlimited := sdktrace.NewSpanLimits()
	unlimited.EventCountLimit = -1
	unlimited.AttributePerEventCountLimit = -1
	for _, tc := range []struct {
		name string
		opts []sdktrace.TracerProviderOption
	}{
		{"default span limits", nil},
		{"unlimited events", []sdktrace.TracerProviderOption{sdktrace.WithRawSpanLimits(unlimited)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			small := longRun(t, n/10, tc.opts)
			large := longRun(t, n, tc.opts)
			if large.growth > heapBudget || small.growth > heapBudget {
				t.Errorf("heap grew %d bytes over %d records and %d over %d, budget %d", small.growth, n/10, large.growth, n, heapBudget)
			}
			// Ten times the records must not cost ten times the memory: the
			// difference stays within a small fixed margin.
			if d := large.growth - small.growth; d > 4<<20 {
				t.Errorf("heap growth depends on the record count: %d bytes for %d records, %d for %d", small.growth, n/10, large.growth, n)
			}
			t.Logf("%d records: heap %+d bytes in %v (%.2f µs/record); %d records: heap %+d bytes in %v",
				n, large.growth, large.took.Round(time.Millisecond), float64(large.took.Nanoseconds())/float64(n)/1e3,
				n/10, small.growth, small.took.Round(time.Millisecond))
		})
	}
}

type longRunResult struct {
	growth int64
	took   time.Duration
}

func longRun(t *testing.T, n int, tpOpts []sdktrace.TracerProviderOption) longRunResult {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "long.log")
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(append(tpOpts, sdktrace.WithSpanProcessor(rec))...)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr, err := pigging.New(logPath, filepath.Join(dir, "long.lock"), pigging.WithName("long"), pigging.WithOutput(io.Discard), pigging.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := liveHeap()
	began := time.Now()
	for i := range n {
		tr.Info("copied batch", "rows", i, "table", "orders")
	}
	took := time.Since(began)
	after := liveHeap() // the run and its span are still alive here
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}

	lines, err := countLines(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if lines != n+2 {
		t.Errorf("log has %d lines, want %d (every record, the header, TOTAL SCRIPT TIME)", lines, n+2)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	attrs := attribute.NewSet(s.Attributes()...)
	if v, _ := attrs.Value("pigging.events.dropped"); v.AsInt64() != int64(n-pigging.DefaultEventBudget) {
		t.Errorf("pigging.events.dropped = %d, want %d", v.AsInt64(), n-pigging.DefaultEventBudget)
	}
	evs := s.Events()
	if len(evs) != pigging.DefaultEventBudget+2 || evs[0].Name != "start" || evs[len(evs)-1].Name != "stop" || s.DroppedEvents() != 0 {
		t.Errorf("span has %d events (%d dropped by the SDK), want start, %d log events, stop", len(evs), s.DroppedEvents(), pigging.DefaultEventBudget)
	}
	return longRunResult{growth: int64(after) - int64(before), took: took}
}

// liveHeap returns the heap in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
