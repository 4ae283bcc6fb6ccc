package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// job is one working directory of the job.
type job struct {
	t                  *testing.T
	dir                string
	log, lock, out, in string
}

func newJob(t *testing.T) *job {
	dir := t.TempDir()
	return &job{t: t, dir: dir,
		log:  filepath.Join(dir, "etl.log"),
		lock: filepath.Join(dir, "etl.lock"),
		out:  filepath.Join(dir, "customers.ndjson"),
	}
}

// result is what one run left.
type result struct {
	err            error
	stdout, stderr string
	spans          []sdktrace.ReadOnlySpan
}

// run runs the job with spans going to a recorder of its own.
func (j *job) run(args ...string) result {
	j.t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	var stdout, stderr bytes.Buffer
	all := append([]string{"-log", j.log, "-lock", j.lock, "-out", j.out}, args...)
	err := runWith(context.Background(), all, &stdout, &stderr, tp)
	return result{err: err, stdout: stdout.String(), stderr: stderr.String(), spans: rec.Ended()}
}

// maskRE matches the durations, ids and times that change from run to run.
var maskRE = regexp.MustCompile(`(duration=|TIME: |trace_id=|pid |holder_pid=|started )[^ ;]+`)

// logLines returns the log's records without timestamps and with durations,
// ids and times masked; stack lines are left out.
func logLines(t *testing.T, path string) []string {
	t.Helper()
	out := proctest.RecordTexts(t, path)
	for i, l := range out {
		out[i] = maskRE.ReplaceAllString(l, "${1}…")
	}
	return out
}

func checkLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// tree renders the spans as an indented tree with the attributes that
// matter here, children in start order.
func tree(spans []sdktrace.ReadOnlySpan) string {
	sorted := slices.Clone(spans)
	slices.SortStableFunc(sorted, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	var b strings.Builder
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, s := range sorted {
			p := ""
			if s.Parent().IsValid() {
				p = s.Parent().SpanID().String()
			}
			if p != parent {
				continue
			}
			b.WriteString(strings.Repeat("  ", depth) + s.Name())
			for _, kv := range s.Attributes() {
				switch kv.Key {
				case "pigging.records.in", "pigging.records.out", "pigging.attempt", "pigging.attempts", "error.type":
					fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.String())
				}
			}
			var events []string
			for _, e := range s.Events() {
				if e.Name != "log" {
					events = append(events, e.Name)
				}
			}
			if len(events) > 0 {
				fmt.Fprintf(&b, " events=%s", strings.Join(events, ","))
			}
			if s.Status().Code == codes.Error {
				b.WriteString(" [error]")
			}
			b.WriteString("\n")
			walk(s.SpanContext().SpanID().String(), depth+1)
		}
	}
	walk("", 0)
	return b.String()
}

func checkTree(t *testing.T, spans []sdktrace.ReadOnlySpan, want string) {
	t.Helper()
	if got := tree(spans); got != want {
		t.Errorf("span tree:\n%s\nwant:\n%s", got, want)
	}
}

func spanNamed(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	t.Fatalf("no span %q", name)
	return nil
}

const okTree = `RUN etl events=start,stop
  extract orders-csv pigging.records.out=4000
  transform clean pigging.records.in=4000 pigging.records.out=3927
  transform aggregate pigging.records.in=3927 pigging.records.out=300
  load warehouse pigging.records.in=300 pigging.attempts=2
    attempt 1 pigging.attempt=1 error.type=*main.sinkError events=exception [error]
    attempt 2 pigging.attempt=2
`

var okLog = []string{
	"INFO: Starting logging job=etl trace_id=…",
	"INFO: Reading orders source=\"built-in orders.csv\" out=…",
	"INFO: extract orders-csv done duration=… records_out=4000 stage=orders-csv",
	"WARN: Dropped malformed rows rows=73 wrong_fields=12 no_customer=12 bad_date=12 bad_amount=19 duplicate=18 first_line=70 stage=clean",
	"INFO: transform clean done duration=… records_in=4000 records_out=3927 stage=clean",
	"INFO: transform aggregate done duration=… records_in=3927 records_out=300 stage=aggregate",
	"WARN: load warehouse attempt 1 of 3 failed, retrying: warehouse: connection reset by peer (simulated: the first attempt always fails) attempt=1 stage=warehouse",
	"INFO: load warehouse done duration=… records_in=300 attempts=2 stage=warehouse",
	"INFO: Pipeline done orders=4000 clean=3927 customers=300",
	"INFO: TOTAL SCRIPT TIME: …",
}

func TestRun(t *testing.T) {
	j := newJob(t)
	res := j.run()
	if res.err != nil {
		t.Fatalf("run: %v\nstderr: %s", res.err, res.stderr)
	}
	lines := logLines(t, j.log)
	if len(lines) > 1 {
		lines[1] = regexp.MustCompile(`out=\S+`).ReplaceAllString(lines[1], "out=…")
	}
	checkLines(t, lines, okLog)
	checkTree(t, res.spans, okTree)

	// The run and the stages are one trace; stages hang off the run span.
	run := spanNamed(t, res.spans, "RUN etl")
	for _, s := range res.spans {
		if s.SpanContext().TraceID() != run.SpanContext().TraceID() {
			t.Errorf("%s is in another trace", s.Name())
		}
	}
	if got := spanNamed(t, res.spans, "transform clean").Parent().SpanID(); got != run.SpanContext().SpanID() {
		t.Errorf("transform clean's parent %s, want the run span", got)
	}
	// The WARN from inside clean is a log event on clean's span.
	var warned bool
	for _, e := range spanNamed(t, res.spans, "transform clean").Events() {
		for _, kv := range e.Attributes {
			if kv.Key == "pigging.log.message" && kv.Value.AsString() == "Dropped malformed rows" {
				warned = true
			}
		}
	}
	if !warned {
		t.Errorf("the WARN about dropped rows is not on the clean span")
	}

	if !strings.HasPrefix(res.stdout, "etl: 4000 orders read, 3927 clean, 300 customers written to ") ||
		!regexp.MustCompile(`\nTOTAL SCRIPT TIME: \S+\n$`).MatchString(res.stdout) {
		t.Errorf("stdout:\n%s", res.stdout)
	}
	if _, err := os.Stat(j.lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock after a run that succeeded: %v", err)
	}
	checkOutput(t, j.out, 300)
}

// checkOutput checks the NDJSON: n customers, sorted, totals that add up.
func checkOutput(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines in %s, want %d", len(lines), path, n)
	}
	prev, orders := "", 0
	for _, l := range lines {
		var c struct {
			Customer string      `json:"customer_id"`
			Orders   int         `json:"orders"`
			Total    json.Number `json:"total_eur"`
		}
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if c.Customer <= prev {
			t.Errorf("customers out of order: %s after %s", c.Customer, prev)
		}
		if _, err := c.Total.Float64(); err != nil || c.Orders < 1 {
			t.Errorf("bad line %q", l)
		}
		prev = c.Customer
		orders += c.Orders
	}
	if orders != 3927 {
		t.Errorf("orders in the totals %d, want 3927", orders)
	}
}

func TestDefaultsInWorkingDir(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	var stdout, stderr bytes.Buffer
	if err := runWith(context.Background(), nil, &stdout, &stderr, tp); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etl.log", "customers.ndjson"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "etl.lock")); err == nil {
		t.Error("etl.lock left after success")
	}
}

func TestFailKeepsLockAndRefusesNextRun(t *testing.T) {
	j := newJob(t)
	res := j.run("-fail")
	if !errors.Is(res.err, errSinkRefused) {
		t.Fatalf("run -fail: %v, want the sink's error", res.err)
	}
	if _, err := os.Stat(j.out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output written by a failed load: %v", err)
	}
	failedLog, _ := os.ReadFile(j.log)
	lines := logLines(t, j.log)
	checkLines(t, lines[6:], []string{
		"WARN: load warehouse attempt 1 of 3 failed, retrying: warehouse: connection refused (simulated by -fail) attempt=1 stage=warehouse",
		"WARN: load warehouse attempt 2 of 3 failed, retrying: warehouse: connection refused (simulated by -fail) attempt=2 stage=warehouse",
		"ERROR: load warehouse failed: warehouse: connection refused (simulated by -fail) duration=… records_in=300 attempts=3 stage=warehouse",
		"ERROR: Run failed: load warehouse failed; its error is logged above",
		"INFO: TOTAL SCRIPT TIME: …",
	})
	checkTree(t, res.spans, `RUN etl error.type=*main.sinkError events=start,stop [error]
  extract orders-csv pigging.records.out=4000
  transform clean pigging.records.in=4000 pigging.records.out=3927
  transform aggregate pigging.records.in=3927 pigging.records.out=300
  load warehouse pigging.records.in=300 pigging.attempts=3 error.type=*main.sinkError [error]
    attempt 1 pigging.attempt=1 error.type=*main.sinkError events=exception [error]
    attempt 2 pigging.attempt=2 error.type=*main.sinkError events=exception [error]
    attempt 3 pigging.attempt=3 error.type=*main.sinkError events=exception [error]
`)

	// The lock stays, saying the run failed and why.
	var info pigging.LockInfo
	b, err := os.ReadFile(j.lock)
	if err != nil {
		t.Fatalf("lock after a failed run: %v", err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	if info.Status != pigging.StateFailure || info.Error != errSinkRefused.Error() || info.Job != "etl" {
		t.Errorf("lock file: %s", b)
	}
	if info.TraceID != spanNamed(t, res.spans, "RUN etl").SpanContext().TraceID().String() {
		t.Errorf("lock file trace_id %s is not the failed run's", info.TraceID)
	}

	// The next run is refused; the failed run's log stays, with one line
	// appended.
	res = j.run()
	if !errors.Is(res.err, pigging.ErrStaleLock) {
		t.Fatalf("run after a failure: %v, want ErrStaleLock", res.err)
	}
	after, _ := os.ReadFile(j.log)
	if !bytes.HasPrefix(after, failedLog) {
		t.Fatalf("the failed run's log was not kept:\n%s", after)
	}
	added := logLines(t, j.log)[len(lines):]
	checkLines(t, added, []string{
		"ERROR: Locked: previous run pid … on " + info.Host + " (job etl) started … failed: warehouse: connection refused (simulated by -fail); read " +
			j.log + ", then clear the lock to run again: pigging unlock --lock " + j.lock + " (pigging.Unlock in Go) lock=" + j.lock + " holder_pid=…",
	})
	if _, err := os.Stat(j.out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused run wrote output: %v", err)
	}
	if len(res.spans) != 1 || res.spans[0].Status().Code != codes.Error {
		t.Errorf("refused run spans:\n%s", tree(res.spans))
	}

	// A person read the log and deleted the lock: the job runs again.
	if err := os.Remove(j.lock); err != nil {
		t.Fatal(err)
	}
	res = j.run()
	if res.err != nil {
		t.Fatalf("run after deleting the lock: %v", res.err)
	}
	checkTree(t, res.spans, okTree)
	checkOutput(t, j.out, 300)
}

func TestPanic(t *testing.T) {
	j := newJob(t)
	res := j.run("-panic")
	var pe *pigging.PanicError
	if !errors.As(res.err, &pe) {
		t.Fatalf("run -panic: %v (%T), want a *PanicError", res.err, res.err)
	}
	if !strings.Contains(string(pe.Stack), "etl.aggregate(") {
		t.Errorf("the stack does not show the panicking function:\n%s", pe.Stack)
	}
	checkTree(t, res.spans, `RUN etl error.type=*pigging.PanicError events=start,stop [error]
  extract orders-csv pigging.records.out=4000
  transform clean pigging.records.in=4000 pigging.records.out=3927
  transform aggregate pigging.records.in=3927 error.type=*pigging.PanicError events=exception [error]
`)
	agg := spanNamed(t, res.spans, "transform aggregate")
	var stack string
	for _, e := range agg.Events() {
		for _, kv := range e.Attributes {
			if e.Name == "exception" && kv.Key == "exception.stacktrace" {
				stack = kv.Value.AsString()
			}
		}
	}
	if stack != string(pe.Stack) {
		t.Errorf("exception.stacktrace is not the panic's whole stack")
	}
	log, _ := os.ReadFile(j.log)
	if !strings.Contains(string(log), "ERROR: transform aggregate failed: panic: runtime error: index out of range [300] with length 300") ||
		!strings.Contains(string(log), "etl.aggregate(") {
		t.Errorf("log lacks the panic and its stack:\n%s", log)
	}
	b, err := os.ReadFile(j.lock)
	if err != nil || !strings.Contains(string(b), `"status":"failure"`) {
		t.Errorf("lock after a panic: %s %v", b, err)
	}
}

func TestIn(t *testing.T) {
	j := newJob(t)
	j.in = filepath.Join(j.dir, "in.csv")
	csv := "order_id,customer_id,ordered_at,amount_eur\n" +
		"A1,C2,2026-10-02T10:00:00Z,10.5\n" +
		"A2,C1,2026-10-01T10:00:00Z,1\n" +
		"A3,C2,2026-10-03T10:00:00Z,0.25\n" +
		"A3,C2,2026-10-03T10:00:00Z,0.25\n" +
		"A4,C3,yesterday,3\n"
	if err := os.WriteFile(j.in, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	res := j.run("-in", j.in)
	if res.err != nil {
		t.Fatal(res.err)
	}
	b, _ := os.ReadFile(j.out)
	want := `{"customer_id":"C1","orders":1,"total_eur":1.00,"first_order":"2026-10-01T10:00:00Z","last_order":"2026-10-01T10:00:00Z"}
{"customer_id":"C2","orders":2,"total_eur":10.75,"first_order":"2026-10-02T10:00:00Z","last_order":"2026-10-03T10:00:00Z"}
`
	if string(b) != want {
		t.Errorf("output:\n%s\nwant:\n%s", b, want)
	}
	if l := logLines(t, j.log)[3]; l != "WARN: Dropped malformed rows rows=2 bad_date=1 duplicate=1 first_line=5 stage=clean" {
		t.Errorf("WARN line: %s", l)
	}

	// A file that is not the orders CSV fails the extract stage.
	if err := os.WriteFile(j.in, []byte("id,name\n1,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(j.lock)
	res = j.run("-in", j.in)
	if res.err == nil || !strings.Contains(res.err.Error(), "header is") {
		t.Fatalf("bad header: %v", res.err)
	}
	if s := spanNamed(t, res.spans, "extract orders-csv"); s.Status().Code != codes.Error {
		t.Errorf("extract span status %v", s.Status().Code)
	}
	os.Remove(j.lock)
	res = j.run("-in", filepath.Join(j.dir, "missing.csv"))
	if !errors.Is(res.err, os.ErrNotExist) {
		t.Errorf("missing input: %v", res.err)
	}
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-nope"}, &stderr)
	if !errors.As(err, new(usageError)) {
		t.Errorf("unknown flag: %v", err)
	}
	_, err = parseFlags([]string{"extra"}, &stderr)
	if !errors.As(err, new(usageError)) {
		t.Errorf("extra argument: %v", err)
	}
	_, err = parseFlags([]string{"-h"}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	_, err = parseFlags([]string{"-hold", "-1s"}, &stderr)
	if !errors.As(err, new(usageError)) {
		t.Errorf("-hold -1s: %v", err)
	}
	o, err := parseFlags(nil, &stderr)
	if err != nil || o.logPath != "etl.log" || o.lock != "etl.lock" || o.out != "customers.ndjson" || o.in != "" || o.fail || o.panicAgg ||
		o.job != "etl" || o.hold != 0 {
		t.Errorf("defaults: %+v %v", o, err)
	}
}

// -hold keeps the run open (lock held, a second run refused) for the
// duration before the stages start; -job names the job.
func TestHoldAndJobName(t *testing.T) {
	j := newJob(t)
	const hold = 2 * time.Second
	done := make(chan result, 1)
	start := time.Now()
	go func() { done <- j.run("-hold", hold.String(), "-job", "nightly") }()
	// The lock appears when the run starts; while the run is held, a second
	// run is refused.
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(j.lock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no lock file within a minute of starting a held run")
		}
		time.Sleep(10 * time.Millisecond)
	}
	second := j.run()
	var lerr *pigging.LockError
	if !errors.As(second.err, &lerr) || !errors.Is(second.err, pigging.ErrLocked) {
		t.Errorf("second run while the first is held: %v, want ErrLocked", second.err)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("held run: %v", res.err)
	}
	if took := time.Since(start); took < hold {
		t.Errorf("held run took %s, want at least the %s it was held", took, hold)
	}
	var run sdktrace.ReadOnlySpan
	for _, sp := range res.spans {
		if sp.Parent().IsValid() {
			continue
		}
		run = sp
	}
	if run == nil || run.Name() != "RUN nightly" {
		t.Fatalf("run span %v, want one named after -job", run)
	}
	if d := run.EndTime().Sub(run.StartTime()); d < hold {
		t.Errorf("run span lasted %s, want at least the %s it was held", d, hold)
	}
	checkOutput(t, j.out, 300)
}

func TestParseCents(t *testing.T) {
	for _, tc := range []struct {
		in    string
		cents int64
		ok    bool
	}{
		{"12", 1200, true}, {"12.5", 1250, true}, {"12.05", 1205, true}, {"0.99", 99, true},
		{"-3.10", -310, true}, {"n/a", 0, false}, {"", 0, false}, {"1.", 0, false},
		{"1.234", 0, false}, {".5", 0, false}, {"1.-5", 0, false}, {"1.x", 0, false},
	} {
		c, ok := parseCents(tc.in)
		if c != tc.cents || ok != tc.ok {
			t.Errorf("parseCents(%q) = %d, %v; want %d, %v", tc.in, c, ok, tc.cents, tc.ok)
		}
	}
}

// TestRunConsole runs the job as main does, with the console exporter: the
// trace goes to stderr as JSON, stdout ends with TOTAL SCRIPT TIME.
func TestRunConsole(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("TRACEPARENT", "")
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	j := newJob(t)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-log", j.log, "-lock", j.lock, "-out", j.out}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`TOTAL SCRIPT TIME: \S+\n$`).MatchString(stdout.String()) {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	names := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var s struct{ Name string }
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("stderr line %q: %v", l, err)
		}
		names[s.Name] = true
	}
	for _, n := range []string{"RUN etl", "extract orders-csv", "transform clean", "transform aggregate", "load warehouse", "attempt 1", "attempt 2"} {
		if !names[n] {
			t.Errorf("span %q not on stderr (got %v)", n, names)
		}
	}
}
