package middleware

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness is one run of a Tracker whose spans go to a recorder.
type harness struct {
	t       *testing.T
	rec     *tracetest.SpanRecorder
	tp      *sdktrace.TracerProvider
	tracker *pigging.Tracker
	ctx     context.Context
	logPath string
	stopped bool
}

// newProvider returns a provider whose spans go to a new recorder.
func newProvider(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// startRun starts a Tracker named "job" in a temp dir.
func startRun(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	tp, rec := newProvider(t)
	h := &harness{t: t, rec: rec, tp: tp, logPath: filepath.Join(dir, "job.log")}
	tr, err := pigging.New(h.logPath, filepath.Join(dir, "job.lock"),
		pigging.WithName("job"), pigging.WithTracerProvider(tp), pigging.WithOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	h.tracker = tr
	h.ctx, err = tr.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !h.stopped {
			_ = tr.Stop()
		}
	})
	return h
}

// stop stops the run and returns the log without timestamps, durations
// replaced by "D", and stack lines left out.
func (h *harness) stop() []string {
	h.t.Helper()
	if err := h.tracker.Stop(); err != nil {
		h.t.Fatal(err)
	}
	h.stopped = true
	return readLog(h.t, h.logPath)
}

var (
	durationRE = regexp.MustCompile(`(duration=|TOTAL SCRIPT TIME: )\S+`)
	traceIDRE  = regexp.MustCompile(`trace_id=[0-9a-f]+`)
)

// readLog returns the log's records without timestamps and with durations
// and trace ids masked; stack lines are left out.
func readLog(t *testing.T, path string) []string {
	t.Helper()
	lines := proctest.RecordTexts(t, path)
	for i, l := range lines {
		l = durationRE.ReplaceAllString(l, "${1}D")
		lines[i] = traceIDRE.ReplaceAllString(l, "trace_id=T")
	}
	return lines
}

// runSpan returns the run span of the recorder's ended spans.
func (h *harness) runSpan() sdktrace.ReadOnlySpan {
	h.t.Helper()
	return spanNamed(h.t, h.rec.Ended(), "RUN job")
}

func spanNamed(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			if found != nil {
				t.Fatalf("two spans named %q", name)
			}
			found = s
		}
	}
	if found == nil {
		t.Fatalf("no span named %q among %v", name, spanNames(spans))
	}
	return found
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name())
	}
	return names
}

func childrenOf(spans []sdktrace.ReadOnlySpan, parent sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().SpanID() == parent.SpanContext().SpanID() && s.Parent().IsValid() {
			out = append(out, s)
		}
	}
	return out
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func eventAttrs(e sdktrace.Event) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range e.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func eventsNamed(s sdktrace.ReadOnlySpan, name string) []sdktrace.Event {
	var out []sdktrace.Event
	for _, e := range s.Events() {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}
