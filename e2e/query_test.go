package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// traceQueryTimeout bounds the wait for a finished job's spans to show up in
// the query API (receiver, batch processor, memory store).
const traceQueryTimeout = 60 * time.Second

// Span is one span as Jaeger's v3 query API returns it (OTLP JSON), with
// attribute values flattened to strings.
type Span struct {
	Service       string // resource attribute service.name
	TraceID       string
	SpanID        string
	ParentSpanID  string
	Name          string
	Kind          string // internal, server, client, producer, consumer, unspecified
	StatusCode    string // unset, ok, error
	StatusMessage string
	Attrs         map[string]string
	Events        []Event
}

// Event is a span event.
type Event struct {
	Name  string
	Attrs map[string]string
}

// EventsNamed returns the span's events with that name.
func (s Span) EventsNamed(name string) []Event {
	var out []Event
	for _, e := range s.Events {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func (s Span) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q span=%s parent=%s kind=%s status=%s", s.Name, s.SpanID, s.ParentSpanID, s.Kind, s.StatusCode)
	if s.StatusMessage != "" {
		fmt.Fprintf(&b, " (%q)", s.StatusMessage)
	}
	fmt.Fprintf(&b, " attrs=%v", sortedMap(s.Attrs))
	for _, e := range s.Events {
		fmt.Fprintf(&b, "\n      event %q %v", e.Name, sortedMap(e.Attrs))
	}
	return b.String()
}

func sortedMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// describeSpans formats spans for failure messages.
func describeSpans(spans []Span) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d spans:\n", len(spans))
	for _, s := range spans {
		fmt.Fprintf(&b, "  trace=%s %s\n", s.TraceID, s)
	}
	return b.String()
}

// findSpans asks Jaeger's v3 query API for the traces of service that
// started after since. A 404 (no traces yet) is no spans and no error.
func findSpans(j *jaeger, service string, since time.Time) ([]Span, error) {
	q := url.Values{}
	q.Set("query.service_name", service)
	q.Set("query.start_time_min", since.Add(-time.Minute).UTC().Format(time.RFC3339Nano))
	q.Set("query.start_time_max", time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano))
	q.Set("query.num_traces", "20")
	u := "http://" + j.QueryHTTP + "/api/v3/traces?" + q.Encode()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, nil
	default:
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, bytes.TrimSpace(body))
	}
	return parseV3(body)
}

// waitSpans polls findSpans until ready accepts the spans or the bound
// passes; then it fails the test with what it last saw.
func waitSpans(t *testing.T, j *jaeger, service string, since time.Time, ready func([]Span) bool) []Span {
	t.Helper()
	deadline := time.Now().Add(traceQueryTimeout)
	var spans []Span
	var err error
	for {
		spans, err = findSpans(j, service, since)
		if err == nil && ready(spans) {
			return spans
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(pollInterval)
	}
	if err != nil {
		t.Fatalf("querying Jaeger for service %q: %v\n%s", service, err, j.tail())
	}
	t.Fatalf("the trace of service %q was not complete in Jaeger after %s; got %s\n%s",
		service, traceQueryTimeout, describeSpans(spans), j.tail())
	return nil
}

// OTLP JSON as the v3 API writes it (grpc-gateway style: int64 as strings,
// enums as numbers; names are also accepted).
type v3Response struct {
	Result struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []v3KeyValue `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Spans []struct {
					TraceID      string       `json:"traceId"`
					SpanID       string       `json:"spanId"`
					ParentSpanID string       `json:"parentSpanId"`
					Name         string       `json:"name"`
					Kind         v3Enum       `json:"kind"`
					Attributes   []v3KeyValue `json:"attributes"`
					Events       []struct {
						Name       string       `json:"name"`
						Attributes []v3KeyValue `json:"attributes"`
					} `json:"events"`
					Status struct {
						Code    v3Enum `json:"code"`
						Message string `json:"message"`
					} `json:"status"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	} `json:"result"`
}

type v3KeyValue struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// v3Enum is an OTLP enum written as a number or as its name.
type v3Enum string

func (e *v3Enum) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*e = v3Enum(strconv.Itoa(n))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*e = v3Enum(s)
	return nil
}

var spanKinds = map[v3Enum]string{
	"": "unspecified", "0": "unspecified", "SPAN_KIND_UNSPECIFIED": "unspecified",
	"1": "internal", "SPAN_KIND_INTERNAL": "internal",
	"2": "server", "SPAN_KIND_SERVER": "server",
	"3": "client", "SPAN_KIND_CLIENT": "client",
	"4": "producer", "SPAN_KIND_PRODUCER": "producer",
	"5": "consumer", "SPAN_KIND_CONSUMER": "consumer",
}

var statusCodes = map[v3Enum]string{
	"": "unset", "0": "unset", "STATUS_CODE_UNSET": "unset",
	"1": "ok", "STATUS_CODE_OK": "ok",
	"2": "error", "STATUS_CODE_ERROR": "error",
}

func enumName(m map[v3Enum]string, e v3Enum) string {
	if s, ok := m[e]; ok {
		return s
	}
	return "?" + string(e)
}

func parseV3(body []byte) ([]Span, error) {
	var r v3Response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding v3 traces: %w: %.500s", err, body)
	}
	var spans []Span
	for _, rs := range r.Result.ResourceSpans {
		res := attrMap(rs.Resource.Attributes)
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := Span{
					Service:       res["service.name"],
					TraceID:       s.TraceID,
					SpanID:        s.SpanID,
					ParentSpanID:  s.ParentSpanID,
					Name:          s.Name,
					Kind:          enumName(spanKinds, s.Kind),
					StatusCode:    enumName(statusCodes, s.Status.Code),
					StatusMessage: s.Status.Message,
					Attrs:         attrMap(s.Attributes),
				}
				for _, e := range s.Events {
					sp.Events = append(sp.Events, Event{Name: e.Name, Attrs: attrMap(e.Attributes)})
				}
				spans = append(spans, sp)
			}
		}
	}
	return spans, nil
}

// attrMap flattens OTLP attributes to strings: ints and doubles in decimal,
// bools as true/false, anything else as its JSON.
func attrMap(kvs []v3KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		var v map[string]json.RawMessage
		if err := json.Unmarshal(kv.Value, &v); err != nil || len(v) != 1 {
			m[kv.Key] = string(kv.Value)
			continue
		}
		for typ, raw := range v {
			var s string
			switch typ {
			case "stringValue", "intValue":
				if json.Unmarshal(raw, &s) != nil { // intValue may also be a bare number
					s = string(raw)
				}
			default:
				s = string(raw)
			}
			m[kv.Key] = s
		}
	}
	return m
}
