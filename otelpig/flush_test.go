package otelpig_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pigging-go/pigging/otelpig"
	"github.com/pigging-go/pigging/pigging"
)

// trackedRun is one run of a pigging Tracker on the global providers, as a
// job does: New, Start, a log record, Stop (which force-flushes the three
// providers). It returns how long Stop took.
func trackedRun(t *testing.T) time.Duration {
	t.Helper()
	dir := t.TempDir()
	tr, err := pigging.New(filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock"), pigging.WithName("job"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.Info("working")
	start := time.Now()
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// allOTLP points the three signals at endpoint over OTLP/HTTP.
func allOTLP(t *testing.T, endpoint string) {
	setenv(t, map[string]string{
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_METRICS_EXPORTER":       "otlp",
		"OTEL_LOGS_EXPORTER":          "otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
	})
}

// TestSilentCollectorOneBound checks that a collector that accepts and never
// answers costs a job's end the shutdown bound once: the Tracker's Stop and
// the shutdown after it share it (before: 5 s in Stop, then 5 s more in
// the shutdown). Each signal's loss is reported once, naming the endpoint.
func TestSilentCollectorOneBound(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 5 s default bound on a silent collector: runs in the full test command")
	}
	isolate(t)
	addr, _ := silentListener(t)
	allOTLP(t, "http://"+addr)
	shutdown := setup(t)

	start := time.Now()
	stop := trackedRun(t)
	err := shutdown(context.Background())
	total := time.Since(start)
	t.Logf("Stop %v, Stop and shutdown %v; shutdown: %v; reported: %v", stop, total, err, reported.all())
	// 5 s, with a wide margin for a loaded machine; the two bounds in a row
	// took 10 s.
	if total > otelpig.DefaultShutdownTimeout+3*time.Second {
		t.Errorf("Stop and shutdown took %v, want one bound of %v", total, otelpig.DefaultShutdownTimeout)
	}

	// Every message, the error handler's and the shutdown's, counted by
	// signal: one each.
	var msgs []string
	for _, e := range reported.all() {
		msgs = append(msgs, e.Error())
	}
	if err != nil {
		msgs = append(msgs, strings.Split(err.Error(), "\n")...)
	}
	for _, path := range []string{"/v1/traces", "/v1/metrics", "/v1/logs"} {
		n := 0
		for _, m := range msgs {
			if strings.Contains(m, path) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: reported %d times, want once naming the endpoint:\n%s", path, n, strings.Join(msgs, "\n"))
		}
	}
}

// postCounter is an OTLP/HTTP collector that answers every request with
// success and counts the POSTs by path.
type postCounter struct {
	mu    sync.Mutex
	posts map[string]int
}

func (c *postCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.posts[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (c *postCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]int{}
	for k, v := range c.posts {
		m[k] = v
	}
	return m
}

// TestOnePOSTPerSignal checks that a run sends each signal once: Stop
// flushes the metrics, and the shutdown's final collection, which holds
// the same values, is not sent again (before: two POSTs to /v1/metrics).
func TestOnePOSTPerSignal(t *testing.T) {
	isolate(t)
	c, url := countingCollector(t)
	allOTLP(t, url)
	shutdown := setup(t)
	trackedRun(t)
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	got := c.counts()
	for _, path := range []string{"/v1/traces", "/v1/metrics", "/v1/logs"} {
		if got["POST "+path] != 1 {
			t.Errorf("POST %s: %d requests, want 1 (all: %v)", path, got["POST "+path], got)
		}
	}
}

// TestShutdownSendsWhatChangedAfterFlush checks the other side: a metric
// recorded after the flush is sent by the shutdown.
func TestShutdownSendsWhatChangedAfterFlush(t *testing.T) {
	isolate(t)
	c, url := countingCollector(t)
	allOTLP(t, url)
	shutdown := setup(t)
	trackedRun(t)
	emitMetricAndLog(context.Background())
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if got := c.counts()["POST /v1/metrics"]; got != 2 {
		t.Errorf("POST /v1/metrics: %d requests, want 2: the flush, and the shutdown with the new value", got)
	}
}

// TestSilentTracesCollectorOneBound checks that a collector that answers
// for metrics and logs does not give a silent traces collector a second
// bound.
func TestSilentTracesCollectorOneBound(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 5 s default bound on a silent collector: runs in the full test command")
	}
	isolate(t)
	addr, _ := silentListener(t)
	c, url := countingCollector(t)
	allOTLP(t, url)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"+addr+"/v1/traces")
	shutdown := setup(t)
	start := time.Now()
	trackedRun(t)
	err := shutdown(context.Background())
	total := time.Since(start)
	t.Logf("Stop and shutdown %v; shutdown: %v; reported: %v", total, err, reported.all())
	if total > otelpig.DefaultShutdownTimeout+3*time.Second {
		t.Errorf("Stop and shutdown took %v, want one bound of %v", total, otelpig.DefaultShutdownTimeout)
	}
	if got := c.counts(); got["POST /v1/metrics"] != 1 || got["POST /v1/logs"] != 1 {
		t.Errorf("requests %v, want one POST of metrics and one of logs", got)
	}
}
