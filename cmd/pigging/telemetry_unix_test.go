//go:build unix

package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunBadTelemetryEnv checks that a telemetry variable pigging does not
// know never stops the job: CMD runs, pigging exits with CMD's status, and
// a warning on stderr and a WARN record name the variable.
func TestRunBadTelemetryEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		varName string
	}{
		{"traces exporter", []string{"OTEL_TRACES_EXPORTER=jaeger"}, "OTEL_TRACES_EXPORTER=jaeger"},
		{"logs exporter", []string{"OTEL_TRACES_EXPORTER=none", "OTEL_LOGS_EXPORTER=file"}, "OTEL_LOGS_EXPORTER=file"},
		{"propagators", []string{"OTEL_TRACES_EXPORTER=none", "OTEL_PROPAGATORS=tracecontext,w3c"}, "OTEL_PROPAGATORS=tracecontext,w3c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := startPigging(t, dir, tt.env, "run", "--name", "tel", "--", "sh", "-c", "echo ran; exit 3")
			if code := p.wait(t, testLimit); code != 3 {
				t.Fatalf("exit status %d, want the command's 3\nstderr: %s", code, p.stderr.String())
			}
			if p.stdout.String() != "ran\n" {
				t.Errorf("stdout %q, want the command's output", p.stdout.String())
			}
			if !strings.Contains(p.stderr.String(), tt.varName) || !strings.Contains(p.stderr.String(), "ignored") {
				t.Errorf("stderr %q does not warn about %s", p.stderr.String(), tt.varName)
			}
			var warned bool
			for _, r := range readLog(t, filepath.Join(dir, "tel.log")) {
				warned = warned || (r.level == "WARN" && strings.HasPrefix(r.text, tt.varName+":"))
			}
			if !warned {
				t.Errorf("no WARN record naming %s in the log", tt.varName)
			}
		})
	}
}

// otlpEnv points the three signals of a pigging process at endpoint.
func otlpEnv(endpoint string) []string {
	return []string{"OTEL_TRACES_EXPORTER=otlp", "OTEL_METRICS_EXPORTER=otlp", "OTEL_LOGS_EXPORTER=otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint}
}

// TestRunSilentCollector checks that a collector that accepts connections
// and never answers costs pigging run one flush bound (5 s), not Stop's
// and then the shutdown's (10.5 s before), and that each signal's loss is
// reported once on stderr, naming the endpoint.
func TestRunSilentCollector(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 5 s flush bound: runs in the full test command")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	conns.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { _, _ = io.Copy(io.Discard, c); c.Close() })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		conns.Wait()
	})
	dir := t.TempDir()
	start := time.Now()
	p := startPigging(t, dir, otlpEnv("http://"+ln.Addr().String()), "run", "--name", "silent", "--", "true")
	if code := p.wait(t, testLimit); code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", code, p.stderr.String())
	}
	elapsed := time.Since(start)
	t.Logf("pigging run took %v\n%s", elapsed, p.stderr.String())
	if elapsed > 8*time.Second {
		t.Errorf("pigging run took %v against a silent collector, want one 5 s bound", elapsed)
	}
	for _, path := range []string{"/v1/traces", "/v1/metrics", "/v1/logs"} {
		if n := strings.Count(p.stderr.String(), ln.Addr().String()+path); n != 1 {
			t.Errorf("%s named %d times on stderr, want once:\n%s", path, n, p.stderr.String())
		}
	}
}

// TestRunOnePOSTPerSignal checks that a run sends each signal in one
// request: before, the metrics were POSTed twice (Stop's flush, then the
// shutdown's final collection).
func TestRunOnePOSTPerSignal(t *testing.T) {
	var mu sync.Mutex
	posts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	p := startPigging(t, dir, otlpEnv(srv.URL), "run", "--name", "posts", "--", "sh", "-c", "echo ran")
	if code := p.wait(t, testLimit); code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", code, p.stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, path := range []string{"/v1/traces", "/v1/metrics", "/v1/logs"} {
		if posts["POST "+path] != 1 {
			t.Errorf("POST %s: %d, want 1 (all: %v)", path, posts["POST "+path], posts)
		}
	}
}

// TestRunSDKDisabled checks that OTEL_SDK_DISABLED=true turns every
// signal off for pigging run, whatever the exporters say, and the job
// runs.
func TestRunSDKDisabled(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	env := append(otlpEnv(srv.URL), "OTEL_SDK_DISABLED=true")
	p := startPigging(t, dir, env, "run", "--name", "off", "--", "sh", "-c", "echo ran; exit 4")
	if code := p.wait(t, testLimit); code != 4 {
		t.Fatalf("exit status %d, want the command's 4\nstderr: %s", code, p.stderr.String())
	}
	if p.stdout.String() != "ran\n" {
		t.Errorf("stdout %q, want the command's output", p.stdout.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 0 {
		t.Errorf("%d requests to the collector, want none", requests)
	}
	if strings.Contains(p.stderr.String(), "otelpig") {
		t.Errorf("stderr has telemetry messages: %s", p.stderr.String())
	}
}
