package otelpig_test

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// received is what a fake collector took in, for all three signals.
type received struct {
	Requests []string // "POST /v1/traces", "grpc traces", ...
	TLS      []bool   // whether each request came over TLS
	Spans    []string
	Metrics  map[string]int64 // sum name -> last int value
	Logs     []logSeen
}

// logSeen is one log record a fake collector took in.
type logSeen struct {
	Body, TraceID, SpanID string
}

// collector is an OTLP receiver for traces, metrics and logs, over HTTP
// or gRPC, that records what it is sent.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	colmetricspb.UnimplementedMetricsServiceServer
	collogspb.UnimplementedLogsServiceServer

	mu  sync.Mutex
	got received
}

// seen returns a copy of what the collector took in so far.
func (c *collector) seen() received {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.got
	r.Requests, r.TLS, r.Spans, r.Logs = slices.Clone(r.Requests), slices.Clone(r.TLS), slices.Clone(r.Spans), slices.Clone(r.Logs)
	r.Metrics = map[string]int64{}
	for k, v := range c.got.Metrics {
		r.Metrics[k] = v
	}
	return r
}

func (c *collector) record(request string, tls bool, msg proto.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got.Requests = append(c.got.Requests, request)
	c.got.TLS = append(c.got.TLS, tls)
	switch m := msg.(type) {
	case *coltracepb.ExportTraceServiceRequest:
		for _, rs := range m.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					c.got.Spans = append(c.got.Spans, s.GetName())
				}
			}
		}
	case *colmetricspb.ExportMetricsServiceRequest:
		if c.got.Metrics == nil {
			c.got.Metrics = map[string]int64{}
		}
		for _, rm := range m.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, met := range sm.GetMetrics() {
					for _, dp := range met.GetSum().GetDataPoints() {
						c.got.Metrics[met.GetName()] = dp.GetAsInt()
					}
				}
			}
		}
	case *collogspb.ExportLogsServiceRequest:
		for _, rl := range m.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				for _, lr := range sl.GetLogRecords() {
					c.got.Logs = append(c.got.Logs, logSeen{
						Body:    lr.GetBody().GetStringValue(),
						TraceID: hex.EncodeToString(lr.GetTraceId()),
						SpanID:  hex.EncodeToString(lr.GetSpanId()),
					})
				}
			}
		}
	}
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.record("grpc traces", false, req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// metricsService and logsService give the collector's other two Export
// methods their gRPC names.
type metricsService struct {
	colmetricspb.UnimplementedMetricsServiceServer
	c *collector
}

func (s metricsService) Export(_ context.Context, req *colmetricspb.ExportMetricsServiceRequest) (*colmetricspb.ExportMetricsServiceResponse, error) {
	s.c.record("grpc metrics", false, req)
	return &colmetricspb.ExportMetricsServiceResponse{}, nil
}

type logsService struct {
	collogspb.UnimplementedLogsServiceServer
	c *collector
}

func (s logsService) Export(_ context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	s.c.record("grpc logs", false, req)
	return &collogspb.ExportLogsServiceResponse{}, nil
}

// ServeHTTP is the OTLP/HTTP receiver (protobuf).
func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req, resp proto.Message
	switch r.URL.Path {
	case "/v1/traces":
		req, resp = &coltracepb.ExportTraceServiceRequest{}, &coltracepb.ExportTraceServiceResponse{}
	case "/v1/metrics":
		req, resp = &colmetricspb.ExportMetricsServiceRequest{}, &colmetricspb.ExportMetricsServiceResponse{}
	case "/v1/logs":
		req, resp = &collogspb.ExportLogsServiceRequest{}, &collogspb.ExportLogsServiceResponse{}
	default:
		http.NotFound(w, r)
		return
	}
	if err := proto.Unmarshal(body, req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.record(r.Method+" "+r.URL.Path, r.TLS != nil, req)
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// serveHTTP serves c over plain HTTP on ln until the test ends.
func (c *collector) serveHTTP(t *testing.T, ln net.Listener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(c)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
}

// serveGRPC serves c over plain gRPC on ln until the test ends.
func (c *collector) serveGRPC(t *testing.T, ln net.Listener) {
	t.Helper()
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, c)
	colmetricspb.RegisterMetricsServiceServer(srv, metricsService{c: c})
	collogspb.RegisterLogsServiceServer(srv, logsService{c: c})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
}

// listen listens on a free port of 127.0.0.1.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
