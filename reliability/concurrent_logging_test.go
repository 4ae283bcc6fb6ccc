//go:build unix

package reliability_test

// Concurrency inside one run: many goroutines logging through every entry
// point at once lose no record, duplicate none, and never interleave two
// records within a line.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

func TestReliabilityConcurrentLogging(t *testing.T) {
	const goroutines, calls = 64, 500
	dir := t.TempDir()
	logPath := filepath.Join(dir, "conc.log")
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr, err := pigging.New(logPath, filepath.Join(dir, "conc.lock"), pigging.WithName("conc"), pigging.WithOutput(io.Discard), pigging.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := tr.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	logger := tr.Logger()
	began := time.Now()
	start := make(chan struct{})
	var wg sync.WaitGroup
	kinds := [4]int{}
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range calls {
				id := fmt.Sprintf("g%02d-i%03d", g, i)
				switch i % 4 {
				case 0:
					tr.Info("info "+id, "id", id, "n", i)
				case 1:
					tr.Warn("warn "+id, "id", id, "note", "a value with spaces")
				case 2:
					logger.InfoContext(ctx, "ctx "+id, "id", id, slog.Group("db", "host", "x"))
				case 3:
					if err := tr.LogException(fmt.Errorf("exc %s: line one\nline two", id)); err == nil {
						t.Error("LogException returned nil")
					}
				}
			}
		}()
	}
	for i := range calls {
		kinds[i%4] += goroutines
	}
	close(start)
	wg.Wait()
	logged := time.Since(began)
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}

	lines := proctest.ReadLogLines(t, logPath, false)
	idRE := regexp.MustCompile(`\| (INFO|WARN|ERROR): (info|warn|ctx|exc) (g\d\d-i\d\d\d)`)
	seen := make(map[string]int, goroutines*calls)
	for _, l := range lines {
		m := idRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		want := map[string]string{"info": "INFO", "warn": "WARN", "ctx": "INFO", "exc": "ERROR"}[m[2]]
		if m[1] != want {
			t.Errorf("record %s logged at %s, want %s", m[3], m[1], want)
		}
		seen[m[3]]++
	}
	for g := range goroutines {
		for i := range calls {
			id := fmt.Sprintf("g%02d-i%03d", g, i)
			if n := seen[id]; n != 1 {
				t.Errorf("record %s is in the log %d times, want once", id, n)
			}
		}
	}
	if want := goroutines*calls + 2; len(lines) != want {
		t.Errorf("log has %d lines, want %d (header, records, TOTAL SCRIPT TIME)", len(lines), want)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	attrs := attribute.NewSet(spans[0].Attributes()...)
	events := kinds[0] + kinds[1] + kinds[2]
	// Every log record is either a log event on the span or counted as
	// dropped; exceptions racing with the logs may take some of the room the
	// budget would give them, never more than the span's event limit allows.
	var logEvents, excEvents int
	for _, e := range spans[0].Events() {
		switch e.Name {
		case "log":
			logEvents++
		case "exception":
			excEvents++
		}
	}
	if logEvents > pigging.DefaultEventBudget || logEvents+excEvents > 126 || spans[0].DroppedEvents() != 0 {
		t.Errorf("span holds %d log and %d exception events (%d dropped by the SDK); want at most %d log events, 126 in all, none dropped",
			logEvents, excEvents, spans[0].DroppedEvents(), pigging.DefaultEventBudget)
	}
	if v, _ := attrs.Value("pigging.events.dropped"); v.AsInt64() != int64(events-logEvents) {
		t.Errorf("pigging.events.dropped = %d, want %d", v.AsInt64(), events-logEvents)
	}
	if v, _ := attrs.Value("pigging.exceptions.dropped"); v.AsInt64() != int64(kinds[3]-excEvents) {
		t.Errorf("pigging.exceptions.dropped = %d, want %d", v.AsInt64(), kinds[3]-excEvents)
	}
	if info := pigtest.ReadLockInfo(t, filepath.Join(dir, "conc.lock")); info.Status != pigging.StateFailure {
		t.Errorf("lock status %q after LogException, want failed", info.Status)
	}
	t.Logf("%d goroutines x %d calls (%d Info, %d Warn, %d InfoContext, %d LogException): %d records checked in %v",
		goroutines, calls, kinds[0], kinds[1], kinds[2], kinds[3], len(seen), logged.Round(time.Millisecond))
}
