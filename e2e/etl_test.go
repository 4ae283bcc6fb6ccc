package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A run's expected outcome.
type outcome struct {
	args     []string
	exitCode int
	status   string // cicd.pipeline.result on the stop event
	failed   bool   // run span status error and error.type; the exception is on the failing attempt
	keepLock bool   // etl.lock stays after the run
}

var (
	okRun   = outcome{exitCode: 0, status: "success"}
	failRun = outcome{args: []string{"-fail"}, exitCode: 1, status: "failure", failed: true, keepLock: true}
)

// stageWant is one expected child span of the run span.
type stageWant struct {
	name       string // span name
	kind       string // pigging.stage.kind
	stage      string // pigging.stage.name
	recordsIn  bool   // pigging.records.in must be set
	recordsOut bool   // pigging.records.out must be set
	retried    bool   // has attempt child spans with pigging.attempt
	failsOnErr bool   // fails (status error, error.type) when the run fails
}

// etlStages is the examples/etl pipeline, in order; each stage's output is
// the next one's input.
var etlStages = []stageWant{
	{name: "extract orders-csv", kind: "extract", stage: "orders-csv", recordsOut: true},
	{name: "transform clean", kind: "transform", stage: "clean", recordsIn: true, recordsOut: true},
	{name: "transform aggregate", kind: "transform", stage: "aggregate", recordsIn: true, recordsOut: true},
	{name: "load warehouse", kind: "load", stage: "warehouse", recordsIn: true, retried: true, failsOnErr: true},
}

// etlJob is the job's name; runSpanName its run span's, the CI/CD
// conventions' "{action} {pipeline}".
const (
	etlJob      = "etl"
	runSpanName = "RUN " + etlJob
)

// TestJaegerTraces runs the job against a real Jaeger over OTLP/HTTP and
// OTLP/gRPC, succeeding and failing, and checks each trace read back through
// Jaeger's query API.
func TestJaegerTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs a Jaeger build; runs in the full test command")
	}
	buildJob(t) // report a broken job before spending time on Jaeger
	j := startJaeger(t)

	for _, tc := range []struct {
		name     string
		protocol string // OTEL_EXPORTER_OTLP_PROTOCOL
		endpoint string
		want     outcome
	}{
		{"http/ok", "http/protobuf", j.OTLPHTTP, okRun},
		{"grpc/ok", "grpc", j.OTLPGRPC, okRun},
		{"http/fail", "http/protobuf", j.OTLPHTTP, failRun},
		{"grpc/fail", "grpc", j.OTLPGRPC, failRun},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			service := uniqueService("etl-e2e")
			since := time.Now()
			res := runJob(t, map[string]string{
				"OTEL_TRACES_EXPORTER":        "otlp",
				"OTEL_METRICS_EXPORTER":       "none",
				"OTEL_LOGS_EXPORTER":          "none",
				"OTEL_EXPORTER_OTLP_PROTOCOL": tc.protocol,
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + tc.endpoint,
				"OTEL_SERVICE_NAME":           service,
			}, tc.want.args...)
			checkOutcome(t, res, tc.want)
			spans := waitSpans(t, j, service, since, traceComplete)
			checkTrace(t, spans, tc.want)
		})
	}
}

// traceComplete tells whether the run span and every stage span (and one
// load attempt) have arrived.
func traceComplete(spans []Span) bool {
	names := map[string]bool{}
	attempts := 0
	for _, s := range spans {
		names[s.Name] = true
		if _, ok := s.Attrs["pigging.attempt"]; ok {
			attempts++
		}
	}
	if !names[runSpanName] || attempts == 0 {
		return false
	}
	for _, st := range etlStages {
		if !names[st.name] {
			return false
		}
	}
	return true
}

// checkOutcome checks the exit code and the files a run leaves behind.
func checkOutcome(t *testing.T, res jobResult, want outcome) {
	t.Helper()
	if res.ExitCode != want.exitCode {
		t.Fatalf("etl %s: want exit code %d\n%s", strings.Join(want.args, " "), want.exitCode, res)
	}
	log, err := os.ReadFile(filepath.Join(res.Dir, "etl.log"))
	if err != nil || len(log) == 0 {
		t.Errorf("etl.log missing or empty (%v)\n%s", err, res)
	}
	_, err = os.Stat(filepath.Join(res.Dir, "etl.lock"))
	switch lockExists := err == nil; {
	case want.keepLock && !lockExists:
		t.Errorf("etl.lock is gone after a %s run; it must stay (%v)\n%s", want.status, err, res)
	case !want.keepLock && lockExists:
		t.Errorf("etl.lock is still there after a %s run\n%s", want.status, res)
	}
}

// checkTrace checks one run's trace as read back from Jaeger.
func checkTrace(t *testing.T, spans []Span, want outcome) {
	t.Helper()
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	defer func() {
		if len(problems) > 0 {
			t.Errorf("the trace in Jaeger is not as expected:\n- %s\n%s",
				strings.Join(problems, "\n- "), describeSpans(spans))
		}
	}()

	traces := map[string]bool{}
	for _, s := range spans {
		traces[s.TraceID] = true
	}
	if len(traces) != 1 {
		fail("want the run in exactly one trace, got %d traces", len(traces))
	}

	// The run span: a root, the CI/CD conventions' pipeline run span of
	// kind server, with start, log and stop events.
	var runs []Span
	for _, s := range spans {
		if s.Name == runSpanName {
			runs = append(runs, s)
		}
	}
	if len(runs) != 1 {
		fail("want one run span %q, got %d", runSpanName, len(runs))
		return
	}
	run := runs[0]
	if run.ParentSpanID != "" {
		fail("run span has a parent %s; want a root span", run.ParentSpanID)
	}
	if run.Kind != "server" {
		fail("run span kind %s; want server", run.Kind)
	}
	if got := run.Attrs["pigging.job"]; got != etlJob {
		fail("run span pigging.job=%q; want %q", got, etlJob)
	}
	// The CI/CD conventions: the run is a pipeline run, its id the span's.
	if got := run.Attrs["cicd.pipeline.name"]; got != etlJob {
		fail("run span cicd.pipeline.name=%q; want %q", got, etlJob)
	}
	if got := run.Attrs["cicd.pipeline.action.name"]; got != "RUN" {
		fail("run span cicd.pipeline.action.name=%q; want RUN", got)
	}
	if got := run.Attrs["cicd.pipeline.run.id"]; got != run.SpanID {
		fail("run span cicd.pipeline.run.id=%q; want its span id %s", got, run.SpanID)
	}
	for _, name := range []string{"start", "log", "stop"} {
		if len(run.EventsNamed(name)) == 0 {
			fail("run span has no %q event", name)
		}
	}
	for _, e := range run.EventsNamed("log") {
		if e.Attrs["pigging.log.severity"] == "" || e.Attrs["pigging.log.message"] == "" {
			fail("log event without log.severity and log.message: %v", sortedMap(e.Attrs))
		}
	}
	if stops := run.EventsNamed("stop"); len(stops) == 1 {
		if got := stops[0].Attrs["cicd.pipeline.result"]; got != want.status {
			fail("stop event cicd.pipeline.result=%q; want %q", got, want.status)
		}
		if ms, err := strconv.ParseInt(stops[0].Attrs["pigging.duration_ms"], 10, 64); err != nil || ms < 0 {
			fail("stop event pigging.duration_ms=%q; want a count of milliseconds", stops[0].Attrs["pigging.duration_ms"])
		}
	} else {
		fail("want one stop event, got %d", len(stops))
	}
	exceptions := run.EventsNamed("exception")
	if want.failed {
		if run.StatusCode != "error" {
			fail("failed run: run span status %s; want error", run.StatusCode)
		}
		// The error is recorded once, where it happened (the failing
		// attempt); the run span says the run failed and how.
		if len(exceptions) != 0 {
			fail("failed run: the run span repeats the stage's exception (%d events)", len(exceptions))
		}
		if run.Attrs["error.type"] == "" || run.Attrs["cicd.pipeline.result"] != "failure" {
			fail("failed run: error.type=%q cicd.pipeline.result=%q; want the error's type and failure", run.Attrs["error.type"], run.Attrs["cicd.pipeline.result"])
		}
		checkRunError(spans, fail)
	} else {
		if run.Attrs["cicd.pipeline.result"] != "success" {
			fail("successful run: cicd.pipeline.result=%q; want success", run.Attrs["cicd.pipeline.result"])
		}
		if run.StatusCode == "error" {
			fail("successful run: run span status error")
		}
		if len(exceptions) != 0 {
			fail("successful run: run span has %d exception events", len(exceptions))
		}
	}

	// The stage spans: children of the run span, in one chain of records.
	byName := map[string][]Span{}
	children := map[string][]Span{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
		children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
	}
	prevOut := ""
	for i, st := range etlStages {
		got := byName[st.name]
		if len(got) != 1 {
			fail("want one %q span, got %d", st.name, len(got))
			prevOut = ""
			continue
		}
		s := got[0]
		if s.ParentSpanID != run.SpanID {
			fail("%q has parent %q; want the run span %s", st.name, s.ParentSpanID, run.SpanID)
		}
		if s.Attrs["pigging.stage.kind"] != st.kind || s.Attrs["pigging.stage.name"] != st.stage {
			fail("%q: pigging.stage.kind=%q pigging.stage.name=%q; want %q, %q", st.name,
				s.Attrs["pigging.stage.kind"], s.Attrs["pigging.stage.name"], st.kind, st.stage)
		}
		in, hasIn := s.Attrs["pigging.records.in"]
		out, hasOut := s.Attrs["pigging.records.out"]
		if st.recordsIn && !isCount(in) {
			fail("%q: pigging.records.in=%q (set %v); want a count", st.name, in, hasIn)
		}
		if st.recordsOut && !isCount(out) {
			fail("%q: pigging.records.out=%q (set %v); want a count", st.name, out, hasOut)
		}
		if i > 0 && st.recordsIn && prevOut != "" && in != prevOut {
			fail("%q: pigging.records.in=%s; want %s, the records.out of %q", st.name, in, prevOut, etlStages[i-1].name)
		}
		prevOut = out

		stageFails := want.failed && st.failsOnErr
		wantResult := "success"
		if stageFails {
			wantResult = "failure"
		}
		if s.Attrs["cicd.pipeline.task.name"] != st.name || s.Attrs["cicd.pipeline.task.run.id"] != s.SpanID || s.Attrs["cicd.pipeline.task.run.result"] != wantResult {
			fail("%q: cicd.pipeline.task.name=%q task.run.id=%q task.run.result=%q; want %q, its span id %s, %s", st.name,
				s.Attrs["cicd.pipeline.task.name"], s.Attrs["cicd.pipeline.task.run.id"], s.Attrs["cicd.pipeline.task.run.result"], st.name, s.SpanID, wantResult)
		}
		if stageFails {
			if s.StatusCode != "error" {
				fail("%q: status %s; want error in a failed run", st.name, s.StatusCode)
			}
			if s.Attrs["error.type"] == "" {
				fail("%q: no error.type in a failed run", st.name)
			}
		} else if s.StatusCode == "error" {
			fail("%q: status error; want it to succeed", st.name)
		}

		if st.retried {
			checkAttempts(s, children[s.SpanID], stageFails, fail)
		}
	}

	// The load's database statements (SQLite, through connect and otelsql)
	// are client spans under the attempt that loaded: none when every
	// attempt failed before reaching the database.
	dbSpans := 0
	for _, st := range etlStages {
		got := byName[st.name]
		if !st.retried || len(got) != 1 {
			continue
		}
		for _, a := range children[got[0].SpanID] {
			var commit bool
			for _, c := range children[a.SpanID] {
				dbSpans++
				if c.Kind != "client" || c.Attrs["db.system.name"] != "sqlite" {
					fail("%q: child %q kind=%s db.system.name=%q; want a client span of sqlite", a.Name, c.Name, c.Kind, c.Attrs["db.system.name"])
				}
				commit = commit || c.Name == "sql.tx.commit"
			}
			loaded := a.StatusCode != "error"
			if loaded && (!commit || a.Attrs["db.collection.name"] != "customers" || a.Attrs["pigging.sink.rows"] != "300") {
				fail("%q: commit span %v, db.collection.name=%q pigging.sink.rows=%q; want a committed load of 300 rows into customers",
					a.Name, commit, a.Attrs["db.collection.name"], a.Attrs["pigging.sink.rows"])
			}
			if !loaded && len(children[a.SpanID]) > 0 {
				fail("%q failed before the database, yet has %d children", a.Name, len(children[a.SpanID]))
			}
		}
	}
	if want.failed && dbSpans > 0 {
		fail("failed run: %d database spans; want none, the warehouse refused every attempt", dbSpans)
	}
	if !want.failed && dbSpans == 0 {
		fail("successful run: no database spans under the load")
	}

	// Nothing else: the run span, the stages, the load attempts and the
	// load's database statements.
	wantSpans := 1 + len(etlStages) + dbSpans
	for _, st := range etlStages {
		if got := byName[st.name]; st.retried && len(got) == 1 {
			wantSpans += len(children[got[0].SpanID])
		}
	}
	if len(spans) != wantSpans {
		fail("want %d spans (run, stages, attempts, database statements), got %d", wantSpans, len(spans))
	}
}

// checkRunError checks that the error of the failed stages is recorded as
// an exception event on their failing attempts, each with its message.
func checkRunError(spans []Span, fail func(string, ...any)) {
	for _, st := range etlStages {
		if !st.failsOnErr {
			continue
		}
		var stage Span
		for _, s := range spans {
			if s.Name == st.name {
				stage = s
			}
		}
		found := false
		for _, a := range spans {
			if a.ParentSpanID != stage.SpanID || a.SpanID == "" {
				continue
			}
			for _, e := range a.EventsNamed("exception") {
				found = true
				if e.Attrs["exception.message"] == "" {
					fail("%q: exception event without exception.message: %v", a.Name, sortedMap(e.Attrs))
				}
			}
		}
		if !found {
			fail("%q: no attempt carries the exception", st.name)
		}
	}
}

// checkAttempts checks the attempt spans under a retried stage: numbered
// 1..n by pigging.attempt; one that succeeds last when the stage succeeds,
// several that all fail when it fails for good.
func checkAttempts(stage Span, attempts []Span, stageFails bool, fail func(string, ...any)) {
	var nums []int
	for _, a := range attempts {
		n, err := strconv.Atoi(a.Attrs["pigging.attempt"])
		if err != nil {
			fail("%q: child %q has pigging.attempt=%q; want a number", stage.Name, a.Name, a.Attrs["pigging.attempt"])
			return
		}
		nums = append(nums, n)
		if stageFails && a.StatusCode != "error" {
			fail("%q: attempt %d status %s; want error when the stage fails", stage.Name, n, a.StatusCode)
		}
	}
	sort.Ints(nums)
	for i, n := range nums {
		if n != i+1 {
			fail("%q: attempts numbered %v; want 1..%d", stage.Name, nums, len(nums))
			break
		}
	}
	switch {
	case len(nums) == 0:
		fail("%q: no attempt spans with pigging.attempt", stage.Name)
	case stageFails && len(nums) < 2:
		fail("%q: failed with %d attempt; want it retried", stage.Name, len(nums))
	case !stageFails:
		for _, a := range attempts {
			if a.Attrs["pigging.attempt"] == strconv.Itoa(len(nums)) && a.StatusCode == "error" {
				fail("%q succeeded but its last attempt %d has status error", stage.Name, len(nums))
			}
		}
	}
}

func isCount(s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n >= 0
}

// exportBound is how long a run may spend waiting on an unreachable
// collector: otelpig's default shutdown bound (5 s).
const exportBound = 5 * time.Second

// exportSlack covers process start, SDK setup and scheduling on a loaded CI
// machine; it is not meant to hide a second full wait.
const exportSlack = 4 * time.Second

var totalTimeRE = regexp.MustCompile(`TOTAL SCRIPT TIME: (\S+)`)

// TestCollectorDown runs the job with its OTLP endpoint on a closed port: the
// run must end as it would with a collector (exit code, log, lock) and spend
// no more than the shutdown bound waiting on export.
func TestCollectorDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs a Jaeger build; runs in the full test command")
	}
	buildJob(t)
	for _, tc := range []struct {
		name     string
		protocol string
		want     outcome
	}{
		{"http/ok", "http/protobuf", okRun},
		{"grpc/ok", "grpc", okRun},
		{"http/fail", "http/protobuf", failRun},
		{"grpc/fail", "grpc", failRun},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runJob(t, map[string]string{
				"OTEL_TRACES_EXPORTER":        "otlp",
				"OTEL_METRICS_EXPORTER":       "none",
				"OTEL_LOGS_EXPORTER":          "none",
				"OTEL_EXPORTER_OTLP_PROTOCOL": tc.protocol,
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + closedPort(t),
				"OTEL_SERVICE_NAME":           uniqueService("etl-down"),
			}, tc.want.args...)
			checkOutcome(t, res, tc.want)

			// The job's own time (Start to Stop) is in its log; the rest of
			// the process's life is setup and waiting on export.
			log, _ := os.ReadFile(filepath.Join(res.Dir, "etl.log"))
			m := totalTimeRE.FindSubmatch(log)
			if m == nil {
				t.Fatalf("no TOTAL SCRIPT TIME in etl.log\n%s", res)
			}
			runTime, err := time.ParseDuration(string(m[1]))
			if err != nil {
				t.Fatalf("TOTAL SCRIPT TIME %q: %v\n%s", m[1], err, res)
			}
			waited := res.Elapsed - runTime
			t.Logf("process %s, run %s, outside the run %s", res.Elapsed.Round(time.Millisecond),
				runTime.Round(time.Millisecond), waited.Round(time.Millisecond))
			if limit := exportBound + exportSlack; waited > limit {
				t.Errorf("spent %s outside the run (waiting on export); want at most %s (%s bound + %s slack)\n%s",
					waited.Round(time.Millisecond), limit, exportBound, exportSlack, res)
			}
		})
	}
}
