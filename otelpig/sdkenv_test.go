package otelpig_test

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	lognoop "go.opentelemetry.io/otel/log/noop"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/pigging-go/pigging/otelpig"
)

// countingCollector starts a postCounter for the test and returns it and
// its URL.
func countingCollector(t *testing.T) (*postCounter, string) {
	t.Helper()
	c := &postCounter{posts: map[string]int{}}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv.URL
}

// waitPOST waits up to d for a POST to path and reports whether one came.
func waitPOST(c *postCounter, path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c.counts()["POST "+path] > 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// TestSDKDisabled checks OTEL_SDK_DISABLED=true: no-op providers for the
// three signals whatever else is set, nothing sent or printed, and the job
// runs.
func TestSDKDisabled(t *testing.T) {
	for _, value := range []string{"true", "TRUE"} {
		t.Run(value, func(t *testing.T) {
			isolate(t)
			c, url := countingCollector(t)
			allOTLP(t, url)
			t.Setenv("OTEL_SDK_DISABLED", value)
			var out syncBuffer
			shutdown := setup(t, otelpig.WithWriter(&out))
			if _, ok := otel.GetTracerProvider().(tracenoop.TracerProvider); !ok {
				t.Errorf("global tracer provider is %T, want the no-op one", otel.GetTracerProvider())
			}
			if _, ok := otel.GetMeterProvider().(metricnoop.MeterProvider); !ok {
				t.Errorf("global meter provider is %T, want the no-op one", otel.GetMeterProvider())
			}
			if _, ok := otel.GetLoggerProvider().(lognoop.LoggerProvider); !ok {
				t.Errorf("global logger provider is %T, want the no-op one", otel.GetLoggerProvider())
			}
			trackedRun(t)
			if err := shutdown(context.Background()); err != nil {
				t.Errorf("shutdown = %v", err)
			}
			if got := c.counts(); len(got) != 0 {
				t.Errorf("requests %v, want none", got)
			}
			if out.String() != "" {
				t.Errorf("wrote %q, want nothing", out.String())
			}
		})
	}
}

// TestExporterList checks that a comma-separated list gets one exporter
// each: console,otlp prints and sends every signal.
func TestExporterList(t *testing.T) {
	isolate(t)
	c, url := countingCollector(t)
	setenv(t, map[string]string{
		"OTEL_TRACES_EXPORTER":        "console, OTLP",
		"OTEL_METRICS_EXPORTER":       "otlp,console",
		"OTEL_LOGS_EXPORTER":          "console,otlp,console",
		"OTEL_EXPORTER_OTLP_ENDPOINT": url,
	})
	var out syncBuffer
	exportEachOnce(t, c, &out)
	console := out.String()
	for _, want := range []string{`"Name":"stage"`, testCounter, testLogBody} {
		if n := strings.Count(console, want); n != 1 {
			t.Errorf("console has %q %d times, want once:\n%s", want, n, console)
		}
	}
}

// exportEachOnce sets up from the environment, with out for the console,
// runs a job, emits a metric and a log record, shuts down, and checks that
// c got one POST of each signal.
func exportEachOnce(t *testing.T, c *postCounter, out *syncBuffer) {
	t.Helper()
	shutdown := setup(t, otelpig.WithWriter(out))
	runJob("stage")
	emitMetricAndLog(context.Background())
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	got := c.counts()
	for _, path := range []string{"/v1/traces", "/v1/metrics", "/v1/logs"} {
		if got["POST "+path] != 1 {
			t.Errorf("POST %s: %d, want 1 (all: %v)", path, got["POST "+path], got)
		}
	}
}

// TestExporterNoneAlone checks that none alone means no exporter.
func TestExporterNoneAlone(t *testing.T) {
	isolate(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "None")
	var out syncBuffer
	shutdown := setup(t, otelpig.WithWriter(&out))
	runJob("stage")
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if out.String() != "" {
		t.Errorf("wrote %q, want nothing", out.String())
	}
}

// TestSDKVariablesApply checks that the variables the SDK reads itself
// reach it through Setup: with the default 5 s delay or 60 s interval no
// export would come within the wait.
func TestSDKVariablesApply(t *testing.T) {
	tests := []struct {
		name, key, value, path string
		emit                   func()
	}{
		{"batch span delay", "OTEL_BSP_SCHEDULE_DELAY", "100", "/v1/traces", func() { runJob() }},
		{"metric interval", "OTEL_METRIC_EXPORT_INTERVAL", "100", "/v1/metrics", func() { emitMetricAndLog(context.Background()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			c, url := countingCollector(t)
			allOTLP(t, url)
			t.Setenv(tt.key, tt.value)
			setup(t)
			tt.emit()
			if !waitPOST(c, tt.path, 3*time.Second) {
				t.Errorf("%s=%s: no POST %s within 3 s", tt.key, tt.value, tt.path)
			}
		})
	}
}

// TestBadSDKNumbersIgnored checks that a bad value the SDK would use as
// is (a negative queue size panics in the batch span processor) is
// replaced by the default.
func TestBadSDKNumbersIgnored(t *testing.T) {
	isolate(t)
	c, url := countingCollector(t)
	allOTLP(t, url)
	t.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "-1")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "0")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "-5")
	shutdown := setup(t, otelpig.WithWriter(&syncBuffer{}))
	runJob("stage")
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v (a negative OTLP timeout would fail every export)", err)
	}
	if got := c.counts()["POST /v1/traces"]; got != 1 {
		t.Errorf("POST /v1/traces: %d, want 1", got)
	}
}

// TestZeroTimeoutIsNoLimit checks the specification's Timeout type: 0 is
// no limit, not a bad value, so it draws no warning, and the job's
// telemetry is still exported. A delay or interval of 0 (the Duration
// type) is outside what the SDK can use, and is still ignored with a
// warning.
func TestZeroTimeoutIsNoLimit(t *testing.T) {
	timeouts := []string{
		"OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BLRP_EXPORT_TIMEOUT", "OTEL_METRIC_EXPORT_TIMEOUT",
		"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
		"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
	}
	isolate(t)
	c, url := countingCollector(t)
	allOTLP(t, url)
	for _, k := range timeouts {
		t.Setenv(k, "0")
	}
	if w := otelpig.EnvWarnings(); len(w) != 0 {
		t.Errorf("EnvWarnings() = %v with every timeout 0, want none: 0 is no limit", w)
	}
	var out syncBuffer
	exportEachOnce(t, c, &out)
	if strings.Contains(out.String(), "TIMEOUT") {
		t.Errorf("Setup warned about a timeout of 0:\n%s", out.String())
	}

	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "0")
	if w := otelpig.EnvWarnings(); len(w) != 1 || !strings.Contains(w[0].Error(), "OTEL_BSP_SCHEDULE_DELAY=0") {
		t.Errorf("EnvWarnings() = %v, want one for OTEL_BSP_SCHEDULE_DELAY=0", w)
	}
}

// TestOTLPTimeoutApplies checks OTEL_EXPORTER_OTLP_TIMEOUT (and the
// per-signal variable winning over it) against a collector that never
// answers: the exporter gives up on its request, and closes the
// connection, after the timeout instead of the default 10 s. (The Go
// exporters apply the timeout to each attempt, and retry with backoff
// within the flush bound.)
func TestOTLPTimeoutApplies(t *testing.T) {
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_TIMEOUT": "300"},
		{"OTEL_EXPORTER_OTLP_TIMEOUT": "60000", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "300"},
	} {
		t.Run("", func(t *testing.T) {
			isolate(t)
			addr, held := holdingListener(t)
			t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
			setenv(t, env)
			shutdown := setup(t)
			runJob("stage")
			// A shutdown bounded well past the timeout makes the export.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
				defer cancel()
				_ = shutdown(ctx)
			}()
			select {
			case d := <-held:
				t.Logf("the exporter closed its request after %v", d)
				if d > 3*time.Second {
					t.Errorf("the exporter held its request %v with a 300 ms timeout", d)
				}
			case <-time.After(4 * time.Second):
				t.Errorf("the exporter still waits after 4 s with a 300 ms timeout")
			}
		})
	}
}

// holdingListener accepts connections and never answers; it sends on the
// returned channel how long each connection stayed open until the client
// closed it.
func holdingListener(t *testing.T) (addr string, held <-chan time.Duration) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan time.Duration, 64)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			start := time.Now()
			wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
				select {
				case ch <- time.Since(start):
				default:
				}
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String(), ch
}
