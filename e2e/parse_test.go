package e2e

import (
	"math"
	"strings"
	"testing"
)

// debugOutput is what the debug exporter prints at detailed verbosity for
// one log record (collector v0.140).
const debugOutput = `Logs	{"resource logs": 1, "log records": 2}
ResourceLog #0
Resource SchemaURL: https://opentelemetry.io/schemas/1.43.0
Resource attributes:
     -> host.name: Str(vm)
     -> service.name: Str(probe)
ScopeLogs #0
ScopeLogs SchemaURL: 
InstrumentationScope probe 
LogRecord #0
ObservedTimestamp: 2026-11-30 20:03:58.280931496 +0000 UTC
Timestamp: 2026-11-30 20:03:58.280931000 +0000 UTC
SeverityText: WARN
SeverityNumber: Warn(13)
Body: Str(hello log)
Attributes:
     -> stage: Str(clean)
     -> rows: Int(3)
Trace ID: 3f618d12a9b1661d5b2c45f099e6f374
Span ID: bc6b44790f99e9ab
Flags: 1
LogRecord #1
ObservedTimestamp: 2026-11-30 20:03:58.280931496 +0000 UTC
Timestamp: 1970-01-01 00:00:00 +0000 UTC
SeverityText: 
SeverityNumber: Unspecified(0)
Body: Str(no span)
Trace ID: 
Span ID: 
Flags: 0
`

func TestLogSink(t *testing.T) {
	s := &logSink{}
	// In uneven chunks, as a pipe delivers it.
	for rest := debugOutput; rest != ""; {
		n := min(len(rest), 37)
		if _, err := s.Write([]byte(rest[:n])); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	recs := s.all()
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2: %v", len(recs), recs)
	}
	r := recs[0]
	if r.Service != "probe" || r.Resource["host.name"] != "vm" || r.Scope != "probe" || r.Body != "hello log" ||
		r.SeverityText != "WARN" || r.SeverityNumber != "Warn(13)" || r.TraceID != "3f618d12a9b1661d5b2c45f099e6f374" ||
		r.SpanID != "bc6b44790f99e9ab" || r.Attrs["stage"] != "clean" || r.Attrs["rows"] != "3" || len(r.Attrs) != 2 {
		t.Errorf("record 0 = %s", r)
	}
	if r := recs[1]; r.Body != "no span" || r.TraceID != "" || len(r.Attrs) != 0 || r.Service != "probe" {
		t.Errorf("record 1 = %s", r)
	}
}

const promOutput = `# HELP probe_duration_seconds
# TYPE probe_duration_seconds histogram
probe_duration_seconds_bucket{job="probe",le="5"} 1
probe_duration_seconds_bucket{job="probe",le="+Inf"} 1
probe_duration_seconds_sum{job="probe"} 0.25
probe_duration_seconds_count{job="probe"} 1
# TYPE probe_records_total counter
probe_records_total{job="probe",stage="a \"quoted\", b"} 42
probe_records_total{job="other",stage="x"} 1e+06 1700000000000
`

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(promOutput))
	if err != nil {
		t.Fatal(err)
	}
	if h := m["probe_duration_seconds"]; h == nil || h.Type != "histogram" || len(h.Samples) != 4 {
		t.Fatalf("histogram family: %+v\n%s", h, m)
	}
	if got := m.Find("probe_duration_seconds_bucket", map[string]string{"le": "+Inf"}); len(got) != 1 || got[0].Value != 1 {
		t.Errorf("+Inf bucket = %v", got)
	}
	if got := m.Find("probe_records_total", map[string]string{"job": "probe"}); len(got) != 1 ||
		got[0].Value != 42 || got[0].Labels["stage"] != `a "quoted", b` {
		t.Errorf("counter = %v", got)
	}
	if got := m.Find("probe_records_total", map[string]string{"job": "other"}); len(got) != 1 || got[0].Value != 1e6 {
		t.Errorf("counter with timestamp = %v", got)
	}
	if got := m.Find("probe_duration_seconds_sum", nil); len(got) != 1 || math.Abs(got[0].Value-0.25) > 1e-12 {
		t.Errorf("sum = %v", got)
	}
	if _, err := parseMetrics(strings.NewReader("bad{x=1} 2\n")); err == nil {
		t.Errorf("parseMetrics accepted an unquoted label value")
	}
}
