//go:build unix

package reliability_test

// Exporter failures, from the job's view: a job set up with otelpig whose
// OTLP collector is unreachable, never answers, or answers slowly still
// finishes, writes its whole log, and shuts down within its bound.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/otelpig"
	"github.com/pigging-go/pigging/pigging"
)

// exportRecords is how many records the export job logs.
const exportRecords = 200

func init() {
	childScenarios["export-job"] = childExportJob
}

// exportResult is what the export job prints as JSON.
type exportResult struct {
	RunErr      string `json:"run_err"`
	RunMS       int64  `json:"run_ms"`
	ShutdownErr string `json:"shutdown_err"`
	ShutdownMS  int64  `json:"shutdown_ms"`
}

// childExportJob sets up otelpig from the environment (the parent points
// OTEL_EXPORTER_OTLP_ENDPOINT at its fake collector), runs a job that logs
// exportRecords records, ends one more span, then shuts down, bounded by SHUTDOWN_MS when set,
// else by the default. It prints an exportResult.
func childExportJob() int {
	ctx := context.Background()
	shutdown, err := otelpig.Setup(ctx, otelpig.WithServiceName("exportjob"))
	if err != nil {
		proctest.ChildDie("Setup: %v", err)
	}
	began := time.Now()
	runErr := pigging.Run(ctx, os.Getenv("LOG"), os.Getenv("LOCK"), func(ctx context.Context, t *pigging.Tracker) error {
		for i := range exportRecords {
			t.Info("row", "i", i)
		}
		return nil
	}, pigging.WithName("exportjob"), pigging.WithOutput(io.Discard))
	res := exportResult{RunMS: time.Since(began).Milliseconds()}
	if runErr != nil {
		res.RunErr = runErr.Error()
	}
	// A span ended after the run, so that shutdown has something left to
	// export and its own bound is what limits it.
	_, span := otel.Tracer("reliability").Start(ctx, "after-run")
	span.End()
	sctx := ctx
	if ms := proctest.ChildEnvInt("SHUTDOWN_MS", 0); ms > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	began = time.Now()
	if err := shutdown(sctx); err != nil {
		res.ShutdownErr = err.Error()
	}
	res.ShutdownMS = time.Since(began).Milliseconds()
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return 0
}

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentCollector accepts connections and reads from them, never replying.
func silentCollector(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// slowCollector answers every OTLP/HTTP export with an empty success, after
// delay. It counts the exports it answered.
func slowCollector(t *testing.T, delay time.Duration, answered *atomic.Int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		timer := time.NewTimer(delay) // the collector's slowness, not a wait for the test
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
		answered.Add(1)
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return l.Addr().String()
}

func TestExporterFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("jobs exporting to unreachable, silent and slow collectors, each waiting out its flush and shutdown bounds (up to 10 s): runs in the full test command")
	}
	const slack = 2 * time.Second // process start, scheduling on a loaded machine
	// pigging's Stop waits at most 5 s for its flush (design §7).
	const stopFlushBound = 5 * time.Second
	cases := []struct {
		name       string
		protocol   string
		collector  func(t *testing.T, answered *atomic.Int64) string
		shutdownMS int // 0: otelpig's default bound
		// wantBound is the longest shutdown may take.
		wantBound time.Duration
		answers   bool // the collector answers: export succeeds
	}{
		{"unreachable/http", "http/protobuf", func(t *testing.T, _ *atomic.Int64) string { return closedPort(t) }, 1000, time.Second, false},
		{"unreachable/grpc", "grpc", func(t *testing.T, _ *atomic.Int64) string { return closedPort(t) }, 1000, time.Second, false},
		{"silent/http", "http/protobuf", func(t *testing.T, _ *atomic.Int64) string { return silentCollector(t) }, 1000, time.Second, false},
		{"silent/grpc", "grpc", func(t *testing.T, _ *atomic.Int64) string { return silentCollector(t) }, 1000, time.Second, false},
		{"silent/http/default-bound", "http/protobuf", func(t *testing.T, _ *atomic.Int64) string { return silentCollector(t) }, 0, otelpig.DefaultShutdownTimeout, false},
		{"slow/http", "http/protobuf", func(t *testing.T, a *atomic.Int64) string { return slowCollector(t, 300*time.Millisecond, a) }, 3000, 3 * time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var answered atomic.Int64
			addr := tc.collector(t, &answered)
			dir := t.TempDir()
			logPath := filepath.Join(dir, "job.log")
			lockPath := filepath.Join(dir, "job.lock")
			began := time.Now()
			c := proctest.Start(t, "export-job",
				"LOG="+logPath, "LOCK="+lockPath, "SHUTDOWN_MS="+strconv.Itoa(tc.shutdownMS),
				"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_PROTOCOL="+tc.protocol,
				"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+addr, "OTEL_SERVICE_NAME=exportjob")
			if code := c.Wait(t, stopFlushBound+tc.wantBound+30*time.Second); code != 0 {
				t.Fatalf("job exit %d; stdout %q stderr %q", code, c.Output(), c.Stderr())
			}
			total := time.Since(began)
			var res exportResult
			if err := json.Unmarshal([]byte(strings.TrimSpace(c.Output())), &res); err != nil {
				t.Fatalf("job output %q: %v", c.Output(), err)
			}
			if res.RunErr != "" {
				t.Errorf("the job failed because of its collector: %s", res.RunErr)
			}
			if d := time.Duration(res.RunMS) * time.Millisecond; d > stopFlushBound+slack {
				t.Errorf("Run took %v, more than Stop's flush bound %v", d, stopFlushBound)
			}
			if d := time.Duration(res.ShutdownMS) * time.Millisecond; d > tc.wantBound+slack {
				t.Errorf("shutdown took %v, more than its bound %v", d, tc.wantBound)
			}
			if tc.answers {
				if res.ShutdownErr != "" || answered.Load() == 0 {
					t.Errorf("slow collector: shutdown error %q, %d exports answered; want the spans delivered", res.ShutdownErr, answered.Load())
				}
			}
			lines := proctest.ReadLogLines(t, logPath, false)
			if len(lines) != exportRecords+2 {
				t.Fatalf("log has %d lines, want %d", len(lines), exportRecords+2)
			}
			for i := range exportRecords {
				if !strings.HasSuffix(lines[i+1], "| INFO: row i="+strconv.Itoa(i)) {
					t.Fatalf("log line %d = %q", i+2, lines[i+1])
				}
			}
			if !strings.Contains(lines[len(lines)-1], "TOTAL SCRIPT TIME") {
				t.Errorf("last line %q", lines[len(lines)-1])
			}
			if _, err := os.Lstat(lockPath); err == nil {
				t.Errorf("lock left after a successful run")
			}
			t.Logf("run %d ms (Stop's flush included), shutdown %d ms (bound %v), whole job %v; shutdown error: %q",
				res.RunMS, res.ShutdownMS, tc.wantBound, total.Round(time.Millisecond), res.ShutdownErr)
		})
	}
}
