package pigging_test

// The harness the package's tests share: a directory with a log, a lock
// and a span recorder per test; readers that parse the log back into
// records; and finders for spans, events and attributes.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pigging-go/pigging/pigging"
)

// unitJob is the job name the unit tests give their Trackers.
const unitJob = "unit-job"

// runSpanName is the name of the span of a run of job: the CI/CD
// conventions' pipeline run span, "{action} {pipeline}".
func runSpanName(job string) string { return "RUN " + job }

// unitLineRE matches one record's first line: time, level, message and pairs.
var unitLineRE = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \| (DEBUG|INFO|WARN|ERROR): (.*)$`)

// unitEnv is one test's directory, paths and tracer provider.
type unitEnv struct {
	dir, log, lock string
	rec            *tracetest.SpanRecorder
	tp             *sdktrace.TracerProvider
	out            *unitBuffer
}

// unitBuffer is a bytes.Buffer safe for concurrent use, for WithOutput.
type unitBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *unitBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *unitBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newUnitEnv(t testing.TB) *unitEnv {
	t.Helper()
	dir := t.TempDir()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &unitEnv{
		dir:  dir,
		log:  filepath.Join(dir, "job.log"),
		lock: filepath.Join(dir, "job.lock"),
		rec:  rec,
		tp:   tp,
		out:  &unitBuffer{},
	}
}

// opts returns the options every unit Tracker gets, then extra.
func (e *unitEnv) opts(extra ...pigging.Option) []pigging.Option {
	return append([]pigging.Option{
		pigging.WithName(unitJob),
		pigging.WithTracerProvider(e.tp),
		pigging.WithOutput(e.out),
	}, extra...)
}

func (e *unitEnv) tracker(t testing.TB, extra ...pigging.Option) *pigging.Tracker {
	t.Helper()
	tr, err := pigging.New(e.log, e.lock, e.opts(extra...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tr
}

// start makes and starts a Tracker; it is stopped at cleanup when the test
// has not stopped it.
func (e *unitEnv) start(t testing.TB, extra ...pigging.Option) (*pigging.Tracker, context.Context) {
	t.Helper()
	tr := e.tracker(t, extra...)
	ctx, err := tr.Start(context.Background())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = tr.Stop() })
	return tr, ctx
}

func unitReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", filepath.Base(path), err)
	}
	return string(b)
}

// unitLines returns the file's lines; it fails the test when the file does
// not end with a newline or is not valid UTF-8.
func unitLines(t testing.TB, path string) []string {
	t.Helper()
	s := unitReadFile(t, path)
	if !utf8.ValidString(s) {
		t.Fatalf("%s is not valid UTF-8: %q", filepath.Base(path), s)
	}
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("%s does not end with a newline: %q", filepath.Base(path), s)
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// unitRecord is one parsed log record.
type unitRecord struct {
	time  time.Time
	level string
	text  string   // the message and key/value pairs
	stack []string // continuation lines, without their leading tab
}

// unitRecords parses the whole file: every line is a record's first line or
// a tab-continued line of the record before it.
func unitRecords(t testing.TB, path string) []unitRecord {
	t.Helper()
	var recs []unitRecord
	for i, l := range unitLines(t, path) {
		if strings.HasPrefix(l, "\t") {
			if len(recs) == 0 {
				t.Fatalf("line %d: continuation line with no record: %q", i+1, l)
			}
			recs[len(recs)-1].stack = append(recs[len(recs)-1].stack, l[1:])
			continue
		}
		m := unitLineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %d does not parse as a record: %q", i+1, l)
		}
		tm, err := time.Parse("2006-01-02 15:04:05.000", m[1])
		if err != nil {
			t.Fatalf("line %d: time %q: %v", i+1, m[1], err)
		}
		recs = append(recs, unitRecord{time: tm, level: m[2], text: m[3]})
	}
	return recs
}

// unitTexts returns "LEVEL: text" for each record.
func unitTexts(recs []unitRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.level + ": " + r.text
	}
	return out
}

// unitBetween returns the records after the "Starting logging" header and
// before "TOTAL SCRIPT TIME", as "LEVEL: text".
func unitBetween(t testing.TB, recs []unitRecord) []string {
	t.Helper()
	if len(recs) < 2 || !strings.HasPrefix(recs[0].text, "Starting logging ") || !strings.HasPrefix(recs[len(recs)-1].text, "TOTAL SCRIPT TIME: ") {
		t.Fatalf("log does not run from the header to TOTAL SCRIPT TIME:\n%s", strings.Join(unitTexts(recs), "\n"))
	}
	return unitTexts(recs[1 : len(recs)-1])
}

func unitEqualLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n\t%s\nwant:\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// unitPanic runs f and returns what it panicked with as a *PanicError.
func unitPanic(f func()) (perr *pigging.PanicError) {
	defer func() {
		if v := recover(); v != nil {
			perr = &pigging.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	f()
	return nil
}

func unitLevelVar(l slog.Level) *slog.LevelVar {
	v := new(slog.LevelVar)
	v.Set(l)
	return v
}

// unitSpansNamed returns the ended spans named name.
func unitSpansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// unitOnlySpan returns the one ended span named name.
func unitOnlySpan(t testing.TB, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := unitSpansNamed(rec, name)
	if len(spans) != 1 {
		t.Fatalf("got %d ended spans named %q, want 1", len(spans), name)
	}
	return spans[0]
}

// unitEvents returns the span's events named name.
func unitEvents(s sdktrace.ReadOnlySpan, name string) []sdktrace.Event {
	var out []sdktrace.Event
	for _, e := range s.Events() {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// unitEventNames returns the names of the span's events in order.
func unitEventNames(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, e.Name)
	}
	return out
}

// unitAttr returns the value of key in attrs, and whether it is there.
func unitAttr(attrs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, kv := range attrs {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// unitWantAttr checks that attrs holds key with the value want (compared as
// its String text, so that ints and strings are both easy to write).
func unitWantAttr(t testing.TB, what string, attrs []attribute.KeyValue, key string, want any) {
	t.Helper()
	v, ok := unitAttr(attrs, key)
	if !ok {
		t.Errorf("%s: no attribute %q in %v", what, key, attrs)
		return
	}
	if got := v.String(); got != fmt.Sprint(want) {
		t.Errorf("%s: %s = %q, want %q", what, key, got, fmt.Sprint(want))
	}
}

// unitSnapshot describes every entry under dir: path, type, and a regular
// file's content or a symlink's target.
func unitSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			b.WriteString(" -> " + target)
		case d.IsDir():
			b.WriteString("/")
		default:
			content, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.WriteString(" = " + string(content))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func unitNoFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists (%v), want none", filepath.Base(path), err)
	}
}

// unitCaptureStderr runs f with os.Stderr sent to a file and returns what
// was written there.
func unitCaptureStderr(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	saved := os.Stderr
	os.Stderr = tmp
	defer func() { os.Stderr = saved }()
	f()
	os.Stderr = saved
	return unitReadFile(t, tmp.Name())
}
