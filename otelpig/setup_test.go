package otelpig_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/pigging-go/pigging/otelpig"
)

// reported collects what OpenTelemetry components hand to the global error
// handler, so tests can check that export failures are reported.
var reported = &errSink{}

type errSink struct {
	mu   sync.Mutex
	errs []error
}

func (s *errSink) Handle(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

func (s *errSink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = nil
}

func (s *errSink) all() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.errs)
}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "" {
		otel.SetErrorHandler(reported)
	}
	goleak.VerifyTestMain(m)
}

// otelEnv lists the variables these tests depend on; each test starts with
// all of them unset.
var otelEnv = []string{
	"OTEL_TRACES_EXPORTER",
	"OTEL_METRICS_EXPORTER",
	"OTEL_LOGS_EXPORTER",
	"OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
	"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
	"OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
	"OTEL_EXPORTER_OTLP_INSECURE",
	"OTEL_EXPORTER_OTLP_TRACES_INSECURE",
	"OTEL_EXPORTER_OTLP_METRICS_INSECURE",
	"OTEL_EXPORTER_OTLP_LOGS_INSECURE",
	"OTEL_EXPORTER_OTLP_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
	"OTEL_PROPAGATORS",
	"OTEL_METRIC_EXPORT_INTERVAL",
	"OTEL_BLRP_SCHEDULE_DELAY",
	"OTEL_SERVICE_NAME",
	"OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_SDK_DISABLED",
	"OTEL_TRACES_SAMPLER",
	"OTEL_BSP_SCHEDULE_DELAY",
	"OTEL_BSP_EXPORT_TIMEOUT",
	"OTEL_BSP_MAX_QUEUE_SIZE",
	"OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
	"OTEL_BLRP_EXPORT_TIMEOUT",
	"OTEL_BLRP_MAX_QUEUE_SIZE",
	"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
	"OTEL_METRIC_EXPORT_TIMEOUT",
	"OTEL_EXPORTER_OTLP_TIMEOUT",
	"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
	"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
	"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
	"TRACEPARENT",
	"TRACESTATE",
	"BAGGAGE",
}

// isolate unsets the OTel variables for the test and restores them, and the
// global tracer provider and propagator, when it ends. Tests that call it
// must not be parallel.
func isolate(t *testing.T) {
	t.Helper()
	for _, k := range otelEnv {
		t.Setenv(k, "") // registers the restore
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	tp := otel.GetTracerProvider()
	mp := otel.GetMeterProvider()
	lp := otel.GetLoggerProvider()
	prop := otel.GetTextMapPropagator()
	t.Cleanup(func() {
		if otel.GetTracerProvider() != tp {
			otel.SetTracerProvider(tp)
		}
		if !same(otel.GetMeterProvider(), mp) {
			otel.SetMeterProvider(mp)
		}
		if !same(otel.GetLoggerProvider(), lp) {
			otel.SetLoggerProvider(lp)
		}
		if !same(otel.GetTextMapPropagator(), prop) {
			otel.SetTextMapPropagator(prop)
		}
	})
	reported.reset()
}

// same reports whether a and b are the same value, without the panic
// that == gives on uncomparable dynamic types (composite propagators).
func same(a, b any) bool {
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) || (ta != nil && !ta.Comparable()) {
		return false
	}
	return a == b
}

// setenv sets each key=value pair for the test.
func setenv(t *testing.T, kv map[string]string) {
	t.Helper()
	for k, v := range kv {
		t.Setenv(k, v)
	}
}

// setup calls otelpig.Setup and fails the test on error. It registers a
// shutdown at cleanup for tests that stop early.
func setup(t *testing.T, opts ...otelpig.Option) func(context.Context) error {
	t.Helper()
	shutdown, err := otelpig.Setup(context.Background(), opts...)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	return shutdown
}

// runJob stands for a job's work: a run span with one child per name,
// all through the global provider, as pigging does.
func runJob(names ...string) {
	tr := otel.Tracer("otelpig-test")
	ctx, run := tr.Start(context.Background(), "run")
	for _, n := range names {
		_, s := tr.Start(ctx, n)
		s.End()
	}
	run.End()
}

// syncBuffer is a bytes.Buffer safe for the exporter's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// consoleSpanNames parses the console exporter's JSON lines.
func consoleSpanNames(t *testing.T, out string) []string {
	t.Helper()
	var names []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		// Metrics and log records are JSON too; spans have a SpanContext
		// at the top level, which log records name differently.
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"SpanContext":{`) {
			continue
		}
		var span struct {
			Name        string
			SpanContext struct{ TraceID string }
		}
		if err := json.Unmarshal([]byte(line), &span); err != nil {
			t.Fatalf("console line is not JSON: %v: %q", err, line)
		}
		if span.Name == "" || span.SpanContext.TraceID == "" {
			t.Fatalf("console line lacks a span: %q", line)
		}
		names = append(names, span.Name)
	}
	return names
}

func TestConsoleWritesToWriter(t *testing.T) {
	for _, value := range []string{"console", "Console"} {
		t.Run("OTEL_TRACES_EXPORTER="+value, func(t *testing.T) {
			isolate(t)
			if value != "" {
				t.Setenv("OTEL_TRACES_EXPORTER", value)
			}
			var buf syncBuffer
			shutdown := setup(t, otelpig.WithWriter(&buf))
			runJob("extract", "load")
			if err := shutdown(context.Background()); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			got := consoleSpanNames(t, buf.String())
			want := []string{"extract", "load", "run"}
			if !slices.Equal(got, want) {
				t.Fatalf("console spans = %q, want %q (output %q)", got, want, buf.String())
			}
		})
	}
}

const helperEnv = "OTELPIG_TEST_HELPER"

// TestHelperProcess is the child process of TestConsoleStdoutStderr: a job
// with default Setup that writes data to stdout, ends a span, adds to a
// counter and emits a log record through the global providers.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		return
	}
	shutdown, err := otelpig.Setup(context.Background())
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	fmt.Println("data-row-1")
	runJob("child-stage")
	emitMetricAndLog(context.Background())
	fmt.Println("data-row-2")
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// The names emitMetricAndLog uses.
const (
	testCounter = "otelpig.test.rows"
	testLogBody = "otelpig-test-log-record"
)

// emitMetricAndLog adds 7 to a counter and emits one log record, through
// the global meter and logger providers, as a library would.
func emitMetricAndLog(ctx context.Context) {
	c, _ := otel.Meter("otelpig-test").Int64Counter(testCounter, metric.WithUnit("{row}"))
	c.Add(ctx, 7)
	var rec otellog.Record
	rec.SetBody(attribute.StringValue(testLogBody))
	rec.SetSeverity(otellog.SeverityInfo)
	otel.GetLoggerProvider().Logger("otelpig-test").Emit(ctx, rec)
}

// summaryLines returns the span lines of a summary (without the trace_id
// line), and fails the test unless it ends with a trace_id line.
func summaryLines(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 2 || !traceIDLine.MatchString(lines[len(lines)-1]) {
		t.Fatalf("summary does not end with a trace_id line:\n%s", out)
	}
	var spans []string
	for _, l := range lines[:len(lines)-1] {
		// Keep the indent and the name: "  extract  61µs ..." -> "  extract".
		name, _, _ := strings.Cut(l, "  ")
		indent := len(l) - len(strings.TrimLeft(l, " "))
		if indent > 0 {
			name, _, _ = strings.Cut(l[indent:], "  ")
		}
		spans = append(spans, strings.Repeat(" ", indent)+name)
	}
	return spans
}

var traceIDLine = regexp.MustCompile(`^trace_id=[0-9a-f]{32}$`)

// TestConsoleStdoutStderr runs a real child process and checks that the
// summary and the console exporters write to stderr and leave stdout to the
// job's data.
func TestConsoleStdoutStderr(t *testing.T) {
	tests := []struct {
		name        string
		env         []string
		wantSummary []string // span lines of the summary on stderr
		wantJSON    []string // console spans on stderr
		wantStderr  []string // also on stderr
		wantNot     []string // not on stderr
	}{
		{
			name:        "default",
			wantSummary: []string{"run", "  child-stage"},
			wantNot:     []string{testCounter, testLogBody},
		},
		{
			name:     "console",
			env:      []string{"OTEL_TRACES_EXPORTER=console"},
			wantJSON: []string{"child-stage", "run"},
			wantNot:  []string{testCounter, testLogBody},
		},
		{
			name: "console for all three",
			env: []string{"OTEL_TRACES_EXPORTER=console", "OTEL_METRICS_EXPORTER=console",
				"OTEL_LOGS_EXPORTER=CONSOLE"},
			wantJSON:   []string{"child-stage", "run"},
			wantStderr: []string{`"Name":"` + testCounter + `"`, testLogBody},
		},
		{
			name:    "none",
			env:     []string{"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none"},
			wantNot: []string{"child-stage", testCounter, testLogBody},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			// GORACE: a race-enabled child would otherwise idle 1 s at exit.
			cmd.Env = []string{helperEnv + "=1", "GORACE=atexit_sleep_ms=0"}
			for _, kv := range os.Environ() {
				k, _, _ := strings.Cut(kv, "=")
				if !slices.Contains(otelEnv, k) && k != helperEnv && k != "GORACE" {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if got := stdout.String(); !strings.HasPrefix(got, "data-row-1\ndata-row-2\n") {
				t.Errorf("stdout lacks the job's data:\n%s", got)
			}
			for _, s := range []string{"child-stage", "trace_id", "TraceID", testCounter, testLogBody} {
				if got := stdout.String(); strings.Contains(got, s) {
					t.Errorf("telemetry (%q) written to stdout:\n%s", s, got)
				}
			}
			errOut := stderr.String()
			if tt.wantSummary != nil {
				if got := summaryLines(t, errOut); !slices.Equal(got, tt.wantSummary) {
					t.Errorf("summary spans = %q, want %q\nstderr:\n%s", got, tt.wantSummary, errOut)
				}
			} else if got := consoleSpanNames(t, errOut); !slices.Equal(got, tt.wantJSON) {
				t.Errorf("spans on stderr = %q, want %q\nstderr:\n%s", got, tt.wantJSON, errOut)
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			for _, s := range tt.wantNot {
				if strings.Contains(errOut, s) {
					t.Errorf("stderr has %q:\n%s", s, errOut)
				}
			}
		})
	}
}

func TestNoneExportsNothing(t *testing.T) {
	isolate(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	var buf syncBuffer
	shutdown := setup(t, otelpig.WithWriter(&buf))

	tr := otel.Tracer("otelpig-test")
	_, span := tr.Start(context.Background(), "run")
	if !span.SpanContext().IsValid() {
		t.Errorf("span context is not valid: log lines would have no trace id")
	}
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if buf.String() != "" {
		t.Fatalf("none exporter wrote %q", buf.String())
	}
}

// otlpRequest is what a fake collector received.
type otlpRequest struct {
	path, contentType string
	spans             []string
	service           string
}

func decodeTraces(req *coltracepb.ExportTraceServiceRequest) (spans []string, service string) {
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				spans = append(spans, s.GetName())
			}
		}
	}
	slices.Sort(spans)
	return spans, service
}

// httpCollector is an OTLP/HTTP receiver on 127.0.0.1.
func httpCollector(t *testing.T) (endpoint string, received func() []otlpRequest) {
	t.Helper()
	var mu sync.Mutex
	var reqs []otlpRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var msg coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		spans, service := decodeTraces(&msg)
		mu.Lock()
		reqs = append(reqs, otlpRequest{r.Method + " " + r.URL.Path, r.Header.Get("Content-Type"), spans, service})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []otlpRequest {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(reqs)
	}
}

// grpcCollector is an OTLP/gRPC receiver on 127.0.0.1.
type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu   sync.Mutex
	reqs []otlpRequest
}

func (c *grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	spans, service := decodeTraces(req)
	c.mu.Lock()
	c.reqs = append(c.reqs, otlpRequest{path: "grpc", spans: spans, service: service})
	c.mu.Unlock()
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func startGRPCCollector(t *testing.T) (endpoint string, received func() []otlpRequest) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &grpcCollector{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, c)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return "http://" + ln.Addr().String(), func() []otlpRequest {
		c.mu.Lock()
		defer c.mu.Unlock()
		return slices.Clone(c.reqs)
	}
}

func TestOTLP(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		collector func(*testing.T) (string, func() []otlpRequest)
		wantPath  string
		wantType  string
	}{
		{
			name:      "http/protobuf by default",
			env:       map[string]string{},
			collector: httpCollector,
			wantPath:  "POST /v1/traces",
			wantType:  "application/x-protobuf",
		},
		{
			name:      "http/protobuf",
			env:       map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
			collector: httpCollector,
			wantPath:  "POST /v1/traces",
			wantType:  "application/x-protobuf",
		},
		{
			name: "traces protocol wins over general protocol",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_PROTOCOL":        "grpc",
				"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
			},
			collector: httpCollector,
			wantPath:  "POST /v1/traces",
			wantType:  "application/x-protobuf",
		},
		{
			name:      "grpc",
			env:       map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			collector: startGRPCCollector,
			wantPath:  "grpc",
		},
		{
			name: "grpc by traces protocol",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_PROTOCOL":        "http/protobuf",
				"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
			},
			collector: startGRPCCollector,
			wantPath:  "grpc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			endpoint, received := tt.collector(t)
			setenv(t, tt.env)
			t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
			var console syncBuffer
			shutdown := setup(t, otelpig.WithServiceName("otlp-job"), otelpig.WithWriter(&console))
			runJob("extract", "load")
			if err := shutdown(context.Background()); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			reqs := received()
			if len(reqs) != 1 {
				t.Fatalf("collector got %d requests, want 1: %+v", len(reqs), reqs)
			}
			r := reqs[0]
			if r.path != tt.wantPath || r.contentType != tt.wantType {
				t.Errorf("request = %q %q, want %q %q", r.path, r.contentType, tt.wantPath, tt.wantType)
			}
			if want := []string{"extract", "load", "run"}; !slices.Equal(r.spans, want) {
				t.Errorf("spans = %q, want %q", r.spans, want)
			}
			if r.service != "otlp-job" {
				t.Errorf("service.name = %q, want otlp-job", r.service)
			}
			if console.String() != "" {
				t.Errorf("console exporter also wrote: %q", console.String())
			}
		})
	}
}

// closedPort returns an address on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// silentListener accepts connections, reads what arrives and never answers.
// It reports each accepted connection on the returned channel.
func silentListener(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acc := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case acc <- struct{}{}:
			default:
			}
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), acc
}

func TestUnreachableCollector(t *testing.T) {
	const bound = 300 * time.Millisecond
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		for _, where := range []string{"closed port", "silent listener"} {
			t.Run(protocol+"/"+where, func(t *testing.T) {
				isolate(t)
				var addr string
				var accepted <-chan struct{}
				if where == "closed port" {
					addr = closedPort(t)
				} else {
					addr, accepted = silentListener(t)
				}
				t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
				t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)

				shutdown := setup(t, otelpig.WithShutdownTimeout(bound))
				runJob("extract", "load") // the job's work is unaffected
				start := time.Now()
				err := shutdown(context.Background())
				elapsed := time.Since(start)
				if elapsed > bound+time.Second {
					t.Fatalf("shutdown took %v, bound %v", elapsed, bound)
				}
				// The spans were lost: shutdown says so, naming the endpoint,
				// so errors.Join(err, shutdown(ctx)) reports it.
				if err == nil || !strings.Contains(err.Error(), "3 spans not exported to http://"+addr) {
					t.Errorf("shutdown error = %v, want one saying 3 spans were not exported to http://%s", err, addr)
				}
				if accepted != nil {
					select {
					case <-accepted:
					default:
						t.Errorf("the exporter never connected to %s", addr)
					}
				}
				t.Logf("shutdown after %v: %v; reported: %v", elapsed, err, reported.all())
			})
		}
	}
}

func TestUnreachableCollectorDefaultBound(t *testing.T) {
	if testing.Short() {
		t.Skip("a shutdown waiting out the 5 s default bound on a silent collector: runs in the full test command")
	}
	isolate(t)
	addr, _ := silentListener(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	shutdown := setup(t)
	runJob("extract")
	start := time.Now()
	err := shutdown(context.Background())
	elapsed := time.Since(start)
	if elapsed > otelpig.DefaultShutdownTimeout+time.Second {
		t.Fatalf("shutdown took %v, default bound %v", elapsed, otelpig.DefaultShutdownTimeout)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("shutdown error = %v, want context.DeadlineExceeded from a collector that never answers", err)
	}
}

func TestShutdownBoundedByContext(t *testing.T) {
	isolate(t)
	addr, _ := silentListener(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	shutdown := setup(t, otelpig.WithShutdownTimeout(time.Minute))
	runJob("extract")

	const bound = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	err := shutdown(ctx)
	if elapsed := time.Since(start); elapsed > bound+time.Second {
		t.Fatalf("shutdown took %v, ctx bound %v", elapsed, bound)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("shutdown error = %v, want context.DeadlineExceeded", err)
	}

	// An already cancelled ctx returns at once, and still stops the exporter.
	isolate(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	shutdown = setup(t)
	runJob("extract")
	done, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	start = time.Now()
	if err := shutdown(done); !errors.Is(err, context.Canceled) {
		t.Errorf("shutdown(cancelled ctx) = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("shutdown(cancelled ctx) took %v", elapsed)
	}
}

// recordingExporter keeps span names after Shutdown (unlike
// tracetest.InMemoryExporter) and counts Shutdown calls.
type recordingExporter struct {
	mu          sync.Mutex
	names       []string
	shutdowns   int
	shutdownErr error
}

func (e *recordingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range spans {
		e.names = append(e.names, s.Name())
	}
	return nil
}

func (e *recordingExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shutdowns++
	return e.shutdownErr
}

func (e *recordingExporter) state() ([]string, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.names), e.shutdowns
}

func TestWithExporterOverridesEnv(t *testing.T) {
	isolate(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	addr := closedPort(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	exp := &recordingExporter{}
	shutdown := setup(t, otelpig.WithExporter(exp))
	runJob("extract")
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	names, shutdowns := exp.state()
	if want := []string{"extract", "run"}; !slices.Equal(names, want) {
		t.Errorf("exported %q, want %q", names, want)
	}
	if shutdowns != 1 {
		t.Errorf("exporter shut down %d times, want 1", shutdowns)
	}
	// An OTLP exporter made despite the option would fail against addr. The
	// global handler may still receive a late report from an earlier test's
	// exporter, so only errors naming this test's address count.
	for _, err := range reported.all() {
		if strings.Contains(err.Error(), addr) {
			t.Errorf("error reported for the endpoint the option overrides: %v", err)
		}
	}
}

func TestShutdownIdempotent(t *testing.T) {
	errBoom := errors.New("boom")
	for _, exporterErr := range []error{nil, errBoom} {
		t.Run(fmt.Sprint(exporterErr), func(t *testing.T) {
			isolate(t)
			exp := &recordingExporter{shutdownErr: exporterErr}
			shutdown := setup(t, otelpig.WithExporter(exp))
			runJob("extract")

			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() { errs[i] = shutdown(context.Background()) })
			}
			wg.Wait()
			for i, err := range errs {
				if !errors.Is(err, exporterErr) || (exporterErr == nil) != (err == nil) {
					t.Errorf("call %d: shutdown = %v, want %v", i, err, exporterErr)
				}
				if err != errs[0] {
					t.Errorf("call %d returned %v, first call %v", i, err, errs[0])
				}
			}
			if err := shutdown(context.Background()); err != errs[0] {
				t.Errorf("later call = %v, want the first result %v", err, errs[0])
			}
			if names, n := exp.state(); n != 1 || len(names) != 2 {
				t.Errorf("exporter: %d shutdowns, spans %q; want 1 shutdown, 2 spans", n, names)
			}
		})
	}
}

// TestSetupBadEnv checks that a value Setup does not know is ignored with
// a warning naming the variable, as the specification asks: telemetry
// never stops the job.
func TestSetupBadEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string   // the warning contains this
		wantNot []string // and none of these
	}{
		{
			name: "unknown traces exporter",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": "bogus"},
			want: "OTEL_TRACES_EXPORTER=bogus: use otlp, console or none",
		},
		{
			name: "an unknown exporter in a list",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": "console,zipkin"},
			want: "OTEL_TRACES_EXPORTER=console,zipkin: use otlp, console or none, or a list of otlp and console; unknown exporter \"zipkin\"; ignored, using console",
		},
		{
			name: "none in a list",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": "none,console"},
			want: "OTEL_TRACES_EXPORTER=none,console: none cannot be listed with other exporters; ignored, using console",
		},
		{
			name: "sdk disabled",
			env:  map[string]string{"OTEL_SDK_DISABLED": "yes"},
			want: "OTEL_SDK_DISABLED=yes: use true or false; ignored, using the default: false",
		},
		{
			name: "batch span processor delay",
			env:  map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "5s"},
			want: "OTEL_BSP_SCHEDULE_DELAY=5s: use a positive number of milliseconds; ignored",
		},
		{
			name: "batch span processor queue",
			env:  map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "-1"},
			want: "OTEL_BSP_MAX_QUEUE_SIZE=-1: use a positive integer; ignored",
		},
		{
			name: "log processor",
			env:  map[string]string{"OTEL_BLRP_EXPORT_TIMEOUT": "-1"},
			want: "OTEL_BLRP_EXPORT_TIMEOUT=-1: use a number of milliseconds, 0 for no limit; ignored",
		},
		{
			name: "metric interval",
			env:  map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "1m"},
			want: "OTEL_METRIC_EXPORT_INTERVAL=1m: use a positive number of milliseconds; ignored",
		},
		{
			name: "otlp timeout",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "-5"},
			want: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=-5: use a number of milliseconds, 0 for no limit; ignored",
		},
		{
			name:    "http/json blames the protocol variable",
			env:     map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
			want:    "OTEL_EXPORTER_OTLP_PROTOCOL=http/json: use http/protobuf or grpc",
			wantNot: []string{"OTEL_TRACES_EXPORTER"},
		},
		{
			name: "traces protocol",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"},
			want: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=udp: use http/protobuf or grpc",
		},
		{
			name: "unknown metrics exporter",
			env:  map[string]string{"OTEL_METRICS_EXPORTER": "prometheus"},
			want: "OTEL_METRICS_EXPORTER=prometheus: use otlp, console or none",
		},
		{
			name: "unknown logs exporter",
			env:  map[string]string{"OTEL_LOGS_EXPORTER": "stdout"},
			want: "OTEL_LOGS_EXPORTER=stdout: use otlp, console or none",
		},
		{
			name: "logs protocol",
			env:  map[string]string{"OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json"},
			want: "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/json: use http/protobuf or grpc",
		},
		{
			name: "temporality",
			env: map[string]string{"OTEL_METRICS_EXPORTER": "otlp",
				"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "sometimes"},
			want: "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=sometimes: use cumulative, delta or lowmemory",
		},
		{
			name: "propagators",
			env:  map[string]string{"OTEL_PROPAGATORS": "tracecontext,w3c"},
			want: "OTEL_PROPAGATORS=tracecontext,w3c: unknown propagator w3c: use a comma-separated list of tracecontext, baggage",
		},
		{
			name: "every bad variable at once",
			env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_METRICS_EXPORTER": "prom",
				"OTEL_LOGS_EXPORTER": "file"},
			want: "OTEL_TRACES_EXPORTER=zipkin: use otlp, console or none, or a list of otlp and console; ignored, using the default: a summary of each trace\n" +
				"otelpig: OTEL_METRICS_EXPORTER=prom: use otlp, console or none, or a list of otlp and console; ignored, using the default: none\n" +
				"otelpig: OTEL_LOGS_EXPORTER=file: use otlp, console or none, or a list of otlp and console; ignored, using the default: none\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			setenv(t, tt.env)
			var out bytes.Buffer
			shutdown, err := otelpig.Setup(context.Background(), otelpig.WithWriter(&out))
			if err != nil {
				t.Fatalf("Setup error = %v, want a warning and nil", err)
			}
			warned := out.String()
			if !strings.Contains(warned, tt.want) || !strings.Contains(warned, "; ignored") {
				t.Errorf("Setup wrote %q, want a warning containing %q and saying it was ignored", warned, tt.want)
			}
			for _, s := range tt.wantNot {
				if strings.Contains(warned, s) {
					t.Errorf("Setup's warning %q names %s", warned, s)
				}
			}
			var got []string
			for _, w := range otelpig.EnvWarnings() {
				got = append(got, w.Error())
			}
			if want := strings.TrimSuffix(warned, "\n"); strings.Join(got, "\n") != want {
				t.Errorf("EnvWarnings() = %q, want the warnings Setup wrote, %q", got, want)
			}
			// The job's spans still get valid ids. (No span is ended where
			// OTLP sends to a collector that is not there.)
			_, span := otel.Tracer("test").Start(context.Background(), "run")
			if !span.SpanContext().IsValid() {
				t.Error("no valid span after Setup with an ignored variable")
			}
			if tt.env["OTEL_TRACES_EXPORTER"] != "otlp" {
				span.End()
			}
			if err := shutdown(context.Background()); err != nil {
				t.Errorf("shutdown = %v", err)
			}
		})
	}
}

// TestEnumCaseInsensitive checks that enumerated values work in any case,
// as the specification asks.
func TestEnumCaseInsensitive(t *testing.T) {
	isolate(t)
	endpoint, received := startGRPCCollector(t)
	setenv(t, map[string]string{
		"OTEL_TRACES_EXPORTER":        " OTLP ",
		"OTEL_METRICS_EXPORTER":       "None",
		"OTEL_LOGS_EXPORTER":          "NONE",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "GRPC",
		"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
		"OTEL_PROPAGATORS":            "TraceContext, B3",
	})
	shutdown := setup(t, otelpig.WithServiceName("upper-case"))
	runJob("extract")
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if reqs := received(); len(reqs) != 1 || reqs[0].service != "upper-case" {
		t.Errorf("gRPC collector got %+v, want one request from upper-case", reqs)
	}
	fields := otel.GetTextMapPropagator().Fields()
	if !slices.Contains(fields, "traceparent") || !slices.Contains(fields, "b3") || slices.Contains(fields, "baggage") {
		t.Errorf("propagator fields = %q, want traceparent and b3 and no baggage", fields)
	}
}

func TestSetupSetsGlobals(t *testing.T) {
	isolate(t)
	exp := &recordingExporter{}
	setup(t, otelpig.WithExporter(exp))

	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); !ok {
		t.Errorf("global tracer provider is %T, want *sdktrace.TracerProvider", otel.GetTracerProvider())
	}
	fields := otel.GetTextMapPropagator().Fields()
	for _, f := range []string{"traceparent", "tracestate", "baggage"} {
		if !slices.Contains(fields, f) {
			t.Errorf("global propagator fields %q lack %q", fields, f)
		}
	}

	// Round trip through the global propagator.
	ctx, span := otel.Tracer("otelpig-test").Start(context.Background(), "run")
	defer span.End()
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	got := trace.SpanContextFromContext(otel.GetTextMapPropagator().Extract(context.Background(), carrier))
	if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("extracted %v, want %v", got, span.SpanContext())
	}
}

// resourceOf runs Setup with an exporter that records the resource of the
// exported spans.
func resourceOf(t *testing.T, opts ...otelpig.Option) map[attribute.Key]attribute.Value {
	t.Helper()
	exp := &resourceExporter{}
	shutdown := setup(t, append(opts, otelpig.WithExporter(exp))...)
	runJob()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	exp.mu.Lock()
	defer exp.mu.Unlock()
	if exp.attrs == nil {
		t.Fatal("no span exported")
	}
	return exp.attrs
}

type resourceExporter struct {
	mu    sync.Mutex
	attrs map[attribute.Key]attribute.Value
}

func (e *resourceExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range spans {
		e.attrs = map[attribute.Key]attribute.Value{}
		for _, kv := range s.Resource().Attributes() {
			e.attrs[kv.Key] = kv.Value
		}
	}
	return nil
}

func (*resourceExporter) Shutdown(context.Context) error { return nil }

func TestResource(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		opts    []otelpig.Option
		want    map[string]string
		wantNot []string
	}{
		{
			name: "OTEL_SERVICE_NAME wins over WithServiceName",
			env:  map[string]string{"OTEL_SERVICE_NAME": "renamed-by-ops"},
			opts: []otelpig.Option{otelpig.WithServiceName("nightly-etl")},
			want: map[string]string{"service.name": "renamed-by-ops"},
		},
		{
			name: "WithServiceName",
			opts: []otelpig.Option{otelpig.WithServiceName("nightly-etl")},
			want: map[string]string{"service.name": "nightly-etl"},
		},
		{
			name: "OTEL_RESOURCE_ATTRIBUTES lands, its service.name wins over the option",
			env: map[string]string{
				"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=staging,team=data,service.name=from-attrs",
			},
			opts: []otelpig.Option{otelpig.WithServiceName("nightly-etl")},
			want: map[string]string{
				"deployment.environment.name": "staging",
				"team":                        "data",
				"service.name":                "from-attrs",
			},
		},
		{
			name: "OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES",
			env: map[string]string{
				"OTEL_SERVICE_NAME":        "renamed-by-ops",
				"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs",
			},
			want: map[string]string{"service.name": "renamed-by-ops"},
		},
		{
			name: "WithResourceAttributes, env wins on conflict",
			env:  map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "team=ops"},
			opts: []otelpig.Option{otelpig.WithResourceAttributes(
				attribute.String("team", "data"), attribute.String("pipeline", "orders"),
			)},
			want: map[string]string{"team": "ops", "pipeline": "orders"},
		},
		{
			name: "default service name is the program's base name",
			want: map[string]string{"service.name": strings.TrimSuffix(
				filepath.Base(os.Args[0]), filepath.Ext(os.Args[0]))},
			wantNot: []string{"unknown_service"},
		},
		{
			name: "service.version and service.instance.id can be overridden",
			env:  map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.version=2.0.1,service.instance.id=etl-box-1"},
			want: map[string]string{"service.version": "2.0.1", "service.instance.id": "etl-box-1"},
		},
		{
			name: "host, process and SDK attributes, no command line",
			want: map[string]string{
				"process.pid":            fmt.Sprint(os.Getpid()),
				"telemetry.sdk.language": "go",
				"telemetry.sdk.name":     "opentelemetry",
				"process.runtime.name":   "go",
			},
			wantNot: []string{"process.command_args", "process.command_line"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			setenv(t, tt.env)
			got := resourceOf(t, tt.opts...)
			for k, v := range tt.want {
				if g := got[attribute.Key(k)].String(); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
			for _, k := range tt.wantNot {
				if v, ok := got[attribute.Key(k)]; ok {
					t.Errorf("%s present: %q", k, v.String())
				}
			}
			for _, k := range []string{"host.name", "process.executable.name", "telemetry.sdk.version", "service.instance.id"} {
				if got[attribute.Key(k)].String() == "" {
					t.Errorf("%s missing", k)
				}
			}
			if host, err := os.Hostname(); err == nil && got["host.name"].String() != host {
				t.Errorf("host.name = %q, want %q", got["host.name"].String(), host)
			}
		})
	}
}

func TestResourceBadAttributesReported(t *testing.T) {
	isolate(t)
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "team=data,novalue")
	got := resourceOf(t, otelpig.WithServiceName("nightly-etl"))
	if got["service.name"].String() != "nightly-etl" {
		t.Errorf("service.name = %q, want nightly-etl", got["service.name"].String())
	}
	errs := reported.all()
	if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), "novalue") {
		t.Errorf("reported errors %v, want one naming the bad entry", errs)
	}
}

// setCounter is a carrier that counts the Set calls of each key.
type setCounter map[string]int

func (c setCounter) Get(string) string { return "" }
func (c setCounter) Set(key, _ string) { c[key]++ }
func (c setCounter) Keys() []string    { return nil }

// TestPropagatorsDeduplicated checks OTEL_PROPAGATORS against the
// specification's "Values MUST be deduplicated in order to register a
// Propagator only once": a name given twice, in any case, injects once.
func TestPropagatorsDeduplicated(t *testing.T) {
	isolate(t)
	t.Setenv("OTEL_PROPAGATORS", "tracecontext,baggage,TraceContext, tracecontext")
	setup(t, otelpig.WithExporter(&recordingExporter{}))
	ctx, span := otel.Tracer("otelpig-test").Start(context.Background(), "run")
	defer span.End()
	c := setCounter{}
	otel.GetTextMapPropagator().Inject(ctx, c)
	if c["traceparent"] != 1 {
		t.Errorf("traceparent set %d times, want once: %v", c["traceparent"], c)
	}
}
