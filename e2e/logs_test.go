package e2e

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogRecord is one log record as Jaeger's debug exporter printed it at
// detailed verbosity (see internal/tools/jaeger/config.yaml), with
// attribute values as printed inside their type: Str(x) gives "x",
// Int(3) gives "3".
type LogRecord struct {
	Service        string            // resource attribute service.name
	Resource       map[string]string // resource attributes
	Scope          string            // instrumentation scope name
	EventName      string
	SeverityText   string // "INFO"
	SeverityNumber string // "Info(9)"
	Body           string
	Attrs          map[string]string
	TraceID        string // hex, "" when the record has none
	SpanID         string
	Timestamp      string
}

func (r LogRecord) String() string {
	return fmt.Sprintf("service=%s scope=%s severity=%s/%s body=%q trace=%s span=%s event=%q attrs=%s",
		r.Service, r.Scope, r.SeverityText, r.SeverityNumber, r.Body, r.TraceID, r.SpanID, r.EventName, sortedMap(r.Attrs))
}

// maxLogRecords bounds the records a logSink keeps; later ones are counted.
const maxLogRecords = 10000

// logSink parses the debug exporter's detailed output as it is written,
// line by line, into LogRecords. Safe for concurrent use.
type logSink struct {
	mu       sync.Mutex
	partial  []byte // an unfinished line
	records  []LogRecord
	dropped  int
	resource map[string]string
	scope    string
	section  string // where "-> key: value" lines go: resource, record
	inRecord bool
}

// Write takes the exporter's output in any chunks.
func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	return len(p), nil
}

// cur is the record being read.
func (s *logSink) cur() *LogRecord {
	if !s.inRecord || len(s.records) == 0 {
		return &LogRecord{} // a line outside a record: parsed, then dropped
	}
	return &s.records[len(s.records)-1]
}

func (s *logSink) line(l string) {
	l = strings.TrimRight(l, "\r")
	if k, v, ok := strings.Cut(strings.TrimSpace(l), "-> "); ok && k == "" {
		key, val, _ := strings.Cut(v, ": ")
		val = unwrapValue(val)
		switch s.section {
		case "resource":
			s.resource[key] = val
		case "record":
			s.cur().Attrs[key] = val
		}
		return
	}
	field, value, _ := strings.Cut(l, ": ")
	switch {
	case strings.HasPrefix(l, "ResourceLog #"):
		s.resource, s.scope, s.section, s.inRecord = map[string]string{}, "", "", false
	case l == "Resource attributes:":
		s.section = "resource"
	case strings.HasPrefix(l, "ScopeLogs #"):
		s.scope, s.section, s.inRecord = "", "", false
	case strings.HasPrefix(l, "InstrumentationScope "):
		s.scope, _, _ = strings.Cut(strings.TrimPrefix(l, "InstrumentationScope "), " ")
	case strings.HasPrefix(l, "LogRecord #"):
		s.section = ""
		if len(s.records) >= maxLogRecords {
			s.dropped++
			s.inRecord = false
			return
		}
		res := map[string]string{}
		for k, v := range s.resource {
			res[k] = v
		}
		s.records = append(s.records, LogRecord{Service: res["service.name"], Resource: res, Scope: s.scope, Attrs: map[string]string{}})
		s.inRecord = true
	case field == "Attributes" || l == "Attributes:":
		s.section = "record"
	case field == "Timestamp":
		s.cur().Timestamp = value
	case field == "SeverityText":
		s.cur().SeverityText = value
	case field == "SeverityNumber":
		s.cur().SeverityNumber = value
	case field == "Body":
		s.cur().Body = unwrapValue(value)
	case field == "EventName":
		s.cur().EventName = value
	case field == "Trace ID":
		s.cur().TraceID = value
	case field == "Span ID":
		s.cur().SpanID = value
	}
}

// unwrapValue turns the exporter's Str(x) into x.
func unwrapValue(v string) string {
	if i := strings.IndexByte(v, '('); i > 0 && strings.HasSuffix(v, ")") {
		return v[i+1 : len(v)-1]
	}
	return v
}

// all returns a copy of the records seen so far.
func (s *logSink) all() []LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogRecord(nil), s.records...)
}

// logQueryTimeout bounds the wait for log records to reach Jaeger's output.
const logQueryTimeout = 30 * time.Second

// LogRecords returns the log records of service that Jaeger has printed so
// far, in the order received.
func (j *jaeger) LogRecords(service string) []LogRecord {
	var out []LogRecord
	for _, r := range j.logs.all() {
		if r.Service == service {
			out = append(out, r)
		}
	}
	return out
}

// WaitLogRecords polls LogRecords until ready accepts them or
// logQueryTimeout passes; then it fails the test with what it last saw.
func (j *jaeger) WaitLogRecords(t *testing.T, service string, ready func([]LogRecord) bool) []LogRecord {
	t.Helper()
	deadline := time.Now().Add(logQueryTimeout)
	for {
		recs := j.LogRecords(service)
		if ready(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, r := range recs {
				fmt.Fprintf(&b, "  %s\n", r)
			}
			t.Fatalf("the log records of service %q were not all in Jaeger's output after %s; got %d:\n%s%s",
				service, logQueryTimeout, len(recs), b.String(), j.tail())
		}
		time.Sleep(pollInterval)
	}
}
