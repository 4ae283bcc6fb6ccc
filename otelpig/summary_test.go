package otelpig

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// spanMaker builds finished spans of one trace with fixed times.
type spanMaker struct {
	trace trace.TraceID
	next  byte
	t0    time.Time
}

func newSpanMaker(traceByte byte) *spanMaker {
	return &spanMaker{trace: trace.TraceID{traceByte, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		t0: time.Date(2026, 11, 27, 21, 35, 17, 0, time.UTC)}
}

// span returns a stub for a span that starts at offset start and lasts d.
func (m *spanMaker) span(name string, parent *tracetest.SpanStub, start, d time.Duration) *tracetest.SpanStub {
	m.next++
	s := &tracetest.SpanStub{
		Name: name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: m.trace, SpanID: trace.SpanID{0, 0, 0, 0, 0, 0, 0, m.next}, TraceFlags: trace.FlagsSampled,
		}),
		StartTime: m.t0.Add(start),
		EndTime:   m.t0.Add(start + d),
	}
	if parent != nil {
		s.Parent = parent.SpanContext
	}
	return s
}

func ro(stubs ...*tracetest.SpanStub) []sdktrace.ReadOnlySpan {
	out := make([]sdktrace.ReadOnlySpan, len(stubs))
	for i, s := range stubs {
		out[i] = s.Snapshot()
	}
	return out
}

// etlTrace is the shape of examples/etl's trace.
func etlTrace(m *spanMaker) (root *tracetest.SpanStub, rest []*tracetest.SpanStub) {
	root = m.span("RUN etl", nil, 0, 11*time.Millisecond)
	root.Events = []sdktrace.Event{{Name: "start"}, {Name: "log"}, {Name: "log"},
		{Name: "stop", Attributes: []attribute.KeyValue{attribute.String("cicd.pipeline.result", "success")}}}
	root.Attributes = []attribute.KeyValue{attribute.String("pigging.job", "etl")}
	extract := m.span("extract orders-csv", root, 100*time.Microsecond, 875*time.Microsecond)
	extract.Attributes = []attribute.KeyValue{attribute.Int("pigging.records.out", 4000)}
	clean := m.span("transform clean", root, time.Millisecond, 854*time.Microsecond)
	clean.Attributes = []attribute.KeyValue{attribute.Int("pigging.records.in", 4000), attribute.Int("pigging.records.out", 3927)}
	clean.Events = []sdktrace.Event{{Name: "log"}, {Name: "log"}}
	load := m.span("load warehouse", root, 2*time.Millisecond, 8676*time.Microsecond)
	load.Attributes = []attribute.KeyValue{attribute.Int("pigging.records.in", 300), attribute.Int("pigging.attempts", 2)}
	a1 := m.span("attempt 1", load, 2*time.Millisecond, 42*time.Microsecond)
	a1.Attributes = []attribute.KeyValue{attribute.Int("pigging.attempt", 1), attribute.String("error.type", "*main.sinkError")}
	a1.Events = []sdktrace.Event{{Name: "exception"}}
	a1.Status = sdktrace.Status{Code: codes.Error, Description: "warehouse: connection reset by peer"}
	a2 := m.span("attempt 2", load, 10*time.Millisecond, 600*time.Microsecond)
	a2.Attributes = []attribute.KeyValue{attribute.Int("pigging.attempt", 2)}
	// In the order a simple span processor ends them: children first.
	return root, []*tracetest.SpanStub{extract, clean, a1, a2, load}
}

const etlSummary = `RUN etl  11.0ms  cicd.pipeline.result=success  [start log×2 stop]
  extract orders-csv  0.9ms  pigging.records.out=4000
  transform clean  0.9ms  pigging.records.in=4000 pigging.records.out=3927  [log×2]
  load warehouse  8.7ms  pigging.records.in=300 pigging.attempts=2
    attempt 1  42µs  pigging.attempt=1 error.type=*main.sinkError  [exception]  status=Error "warehouse: connection reset by peer"
    attempt 2  0.6ms  pigging.attempt=2
trace_id=070102030405060708090a0b0c0d0e0f
`

func TestSummaryOneByOne(t *testing.T) {
	var buf bytes.Buffer
	e := newSummaryExporter(&buf, summaryMaxSpans)
	root, rest := etlTrace(newSpanMaker(7))
	for _, s := range rest {
		if err := e.ExportSpans(context.Background(), ro(s)); err != nil {
			t.Fatal(err)
		}
		if buf.Len() != 0 {
			t.Fatalf("printed before the root ended: %q", buf.String())
		}
	}
	if err := e.ExportSpans(context.Background(), ro(root)); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != etlSummary {
		t.Errorf("summary:\n%s\nwant:\n%s", got, etlSummary)
	}
	if e.held != 0 || len(e.pending) != 0 {
		t.Errorf("after the tree: %d spans held in %d traces, want none", e.held, len(e.pending))
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != etlSummary {
		t.Errorf("shutdown printed more: %q", strings.TrimPrefix(got, etlSummary))
	}
}

func TestSummaryOneBatchAnyOrder(t *testing.T) {
	var buf bytes.Buffer
	e := newSummaryExporter(&buf, summaryMaxSpans)
	root, rest := etlTrace(newSpanMaker(7))
	// The root first, then the rest reversed, and another trace's span.
	other := newSpanMaker(9)
	otherRoot := other.span("other", nil, 0, 2*time.Second)
	batch := append([]*tracetest.SpanStub{root}, rest[4], rest[3], rest[2], rest[1], rest[0])
	batch = append(batch, other.span("other child", otherRoot, 0, time.Millisecond))
	if err := e.ExportSpans(context.Background(), ro(batch...)); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != etlSummary {
		t.Errorf("summary:\n%s\nwant:\n%s", got, etlSummary)
	}
	buf.Reset()
	if err := e.ExportSpans(context.Background(), ro(otherRoot)); err != nil {
		t.Fatal(err)
	}
	want := "other  2.00s\n  other child  1.0ms\ntrace_id=090102030405060708090a0b0c0d0e0f\n"
	if got := buf.String(); got != want {
		t.Errorf("second trace:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummaryErrorSaidOnce(t *testing.T) {
	var buf bytes.Buffer
	e := newSummaryExporter(&buf, summaryMaxSpans)
	m := newSpanMaker(3)
	failed := sdktrace.Status{Code: codes.Error, Description: "warehouse: connection refused"}
	run := m.span("RUN etl", nil, 0, 36*time.Millisecond)
	run.Status = failed
	load := m.span("load warehouse", run, 0, 32*time.Millisecond)
	load.Status = failed
	a1 := m.span("attempt 1", load, 0, 25*time.Microsecond)
	a1.Status = sdktrace.Status{Code: codes.Error, Description: "warehouse: timeout"}
	a2 := m.span("attempt 2", load, time.Millisecond, 37*time.Microsecond)
	a2.Status = failed
	if err := e.ExportSpans(context.Background(), ro(a1, a2, load, run)); err != nil {
		t.Fatal(err)
	}
	want := `RUN etl  36.0ms  status=Error "warehouse: connection refused"
  load warehouse  32.0ms  status=Error
    attempt 1  25µs  status=Error "warehouse: timeout"
    attempt 2  37µs  status=Error
trace_id=030102030405060708090a0b0c0d0e0f
`
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummaryRemoteParentIsRoot(t *testing.T) {
	var buf bytes.Buffer
	e := newSummaryExporter(&buf, summaryMaxSpans)
	m := newSpanMaker(5)
	caller := trace.NewSpanContext(trace.SpanContextConfig{TraceID: m.trace, SpanID: trace.SpanID{9, 9}, Remote: true})
	run := m.span("RUN etl", nil, 0, 3*time.Second)
	run.Parent = caller
	run.Status = sdktrace.Status{Code: codes.Error, Description: strings.Repeat("x", 200)}
	if err := e.ExportSpans(context.Background(), ro(run)); err != nil {
		t.Fatal(err)
	}
	want := `RUN etl  3.00s  status=Error "` + strings.Repeat("x", summaryMaxStatus-1) + "…\"\ntrace_id=050102030405060708090a0b0c0d0e0f\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummaryShutdownPrintsOrphans(t *testing.T) {
	var buf bytes.Buffer
	e := newSummaryExporter(&buf, summaryMaxSpans)
	_, rest := etlTrace(newSpanMaker(7))
	if err := e.ExportSpans(context.Background(), ro(rest...)); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("printed without a root: %q", buf.String())
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Each span under the root that never ended is printed, its own
	// children below it, once.
	got := buf.String()
	for _, line := range strings.Split(etlSummary, "\n")[1:6] {
		if strings.Count(got, strings.TrimLeft(line, " ")+"\n") != 1 {
			t.Errorf("shutdown output does not hold %q once:\n%s", line, got)
		}
	}
	if !strings.Contains(got, "load warehouse  8.7ms  pigging.records.in=300 pigging.attempts=2\n  attempt 1") {
		t.Errorf("attempts not printed under their stage:\n%s", got)
	}
	if err := e.ExportSpans(context.Background(), ro(rest[0])); err != nil || strings.Count(buf.String(), "extract") != 1 {
		t.Errorf("export after shutdown printed or failed: %v\n%s", err, buf.String())
	}
}

func TestSummaryBoundedMemory(t *testing.T) {
	var buf bytes.Buffer
	e := newSummaryExporter(&buf, 3)
	m := newSpanMaker(1)
	root := m.span("run", nil, 0, time.Second)
	var kids []*tracetest.SpanStub
	for range 5 {
		kids = append(kids, m.span("stage", root, 0, time.Millisecond))
	}
	other := newSpanMaker(2)
	otherKid := other.span("other stage", other.span("other", nil, 0, time.Second), 0, time.Millisecond)
	if err := e.ExportSpans(context.Background(), ro(append(kids, otherKid)...)); err != nil {
		t.Fatal(err)
	}
	if e.held != 3 || e.lost != 1 {
		t.Errorf("held %d, lost %d; want 3 held and the other trace's span lost", e.held, e.lost)
	}
	if err := e.ExportSpans(context.Background(), ro(root)); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	if strings.Count(got, "  stage  1.0ms\n") != 3 || !strings.Contains(got, "  (2 more spans not shown)\n") {
		t.Errorf("want 3 stages and 2 not shown:\n%s", got)
	}
	buf.Reset()
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "(1 spans of other traces not shown") {
		t.Errorf("shutdown does not report the lost span: %q", buf.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stderr closed") }

func TestSummaryWriteError(t *testing.T) {
	e := newSummaryExporter(failingWriter{}, summaryMaxSpans)
	m := newSpanMaker(1)
	if err := e.ExportSpans(context.Background(), ro(m.span("run", nil, 0, time.Second))); err == nil || err.Error() != "stderr closed" {
		t.Errorf("ExportSpans = %v, want the writer's error", err)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                "0ms",
		0:                           "0µs",
		42 * time.Microsecond:       "42µs",
		875 * time.Microsecond:      "0.9ms",
		11 * time.Millisecond:       "11.0ms",
		999 * time.Millisecond:      "999.0ms",
		2346 * time.Millisecond:     "2.35s",
		65*time.Second + 400*1e6:    "1m5s",
		3*time.Hour + 2*time.Minute: "3h2m0s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
