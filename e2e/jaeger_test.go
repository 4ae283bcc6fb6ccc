package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds for the Jaeger process. Generous for a loaded 2-core CI machine, and
// all finite.
const (
	jaegerHealthTimeout = 90 * time.Second // from exec to a 200 on /status
	jaegerStopTimeout   = 15 * time.Second // SIGTERM to exit, then SIGKILL
	jaegerStartAttempts = 3                // a free port can be taken between probe and bind
	pollInterval        = 100 * time.Millisecond
)

// jaegerToolDir is the module that pins Jaeger, relative to the repository root.
const jaegerToolDir = "internal/tools/jaeger"

const jaegerPackage = "github.com/jaegertracing/jaeger/cmd/jaeger"

// jaeger is a running Jaeger v2 all-in-one with in-memory storage.
type jaeger struct {
	OTLPHTTP  string // host:port of the OTLP/HTTP receiver
	OTLPGRPC  string // host:port of the OTLP/gRPC receiver
	QueryHTTP string // host:port of the query API
	Health    string // host:port of the health check
	// Prometheus is host:port of the metrics pipeline's prometheus
	// exporter: GET /metrics gives the metrics received over OTLP.
	Prometheus string

	out  *tailBuffer
	logs *logSink // the logs pipeline's debug exporter output, parsed
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done is closed
}

// startJaeger builds Jaeger, starts it on free loopback ports, waits until
// its health check answers and registers its stop with t.Cleanup.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := buildJaeger(t)
	cfg := filepath.Join(repoRoot(t), jaegerToolDir, "config.yaml")
	var lastErr error
	for attempt := 1; attempt <= jaegerStartAttempts; attempt++ {
		j, err := launchJaeger(t, bin, cfg)
		if err == nil {
			return j
		}
		lastErr = err
		if !errors.Is(err, errJaegerExited) || !strings.Contains(err.Error(), "address already in use") {
			break // not a port race: retrying will not help
		}
		t.Logf("Jaeger start attempt %d failed, retrying with new ports: %v", attempt, err)
	}
	t.Fatalf("starting Jaeger: %v", lastErr)
	return nil
}

var errJaegerExited = errors.New("jaeger exited before it was healthy")

func launchJaeger(t *testing.T, bin, cfg string) (*jaeger, error) {
	t.Helper()
	ports := freePorts(t, 6)
	j := &jaeger{
		OTLPGRPC:   "127.0.0.1:" + ports[0],
		OTLPHTTP:   "127.0.0.1:" + ports[1],
		QueryHTTP:  "127.0.0.1:" + ports[2],
		Health:     "127.0.0.1:" + ports[4],
		Prometheus: "127.0.0.1:" + ports[5],
		out:        newTailBuffer(64 << 10),
		logs:       &logSink{},
		done:       make(chan struct{}),
	}
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Env = append(os.Environ(),
		"JAEGER_LISTEN_HOST=127.0.0.1",
		"JAEGER_OTLP_GRPC_PORT="+ports[0],
		"JAEGER_OTLP_HTTP_PORT="+ports[1],
		"JAEGER_QUERY_HTTP_PORT="+ports[2],
		"JAEGER_QUERY_GRPC_PORT="+ports[3],
		"JAEGER_HEALTH_PORT="+ports[4],
		"JAEGER_PROMETHEUS_PORT="+ports[5],
	)
	// The debug exporter prints log records on stdout; Jaeger logs on stderr.
	cmd.Stdout = io.MultiWriter(j.out, j.logs)
	cmd.Stderr = j.out
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", bin, err)
	}
	j.cmd = cmd
	go func() {
		j.err = cmd.Wait()
		close(j.done)
	}()
	t.Cleanup(j.stop)

	start := time.Now()
	deadline := start.Add(jaegerHealthTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + j.Health + "/status"
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("Jaeger healthy after %s (OTLP/HTTP %s, OTLP/gRPC %s, query %s, prometheus %s)",
					time.Since(start).Round(time.Millisecond), j.OTLPHTTP, j.OTLPGRPC, j.QueryHTTP, j.Prometheus)
				return j, nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		select {
		case <-j.done:
			return nil, fmt.Errorf("%w (%v)\n%s", errJaegerExited, j.err, j.tail())
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no healthy answer from %s within %s; last: %s\n%s",
				url, jaegerHealthTimeout, last, j.tail())
		}
	}
}

// stop ends the whole process group: SIGTERM, then SIGKILL after a bound.
func (j *jaeger) stop() {
	select {
	case <-j.done:
		return
	default:
	}
	signalGroup(j.cmd, syscall.SIGTERM)
	select {
	case <-j.done:
	case <-time.After(jaegerStopTimeout):
		signalGroup(j.cmd, syscall.SIGKILL)
		<-j.done
	}
}

// tail returns the end of Jaeger's output, for failure messages.
func (j *jaeger) tail() string {
	lines := strings.SplitAfter(j.out.String(), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return "--- Jaeger output (last lines) ---\n" + strings.Join(lines, "") + "--- end of Jaeger output ---"
}

const tailLines = 40

// buildJaeger builds the Jaeger binary from internal/tools/jaeger into a
// directory shared by the tests of this run and returns its path.
func buildJaeger(t *testing.T) string {
	t.Helper()
	jaegerBuild.once.Do(func() {
		bin := filepath.Join(binDir, "jaeger")
		start := time.Now()
		ctx, cancel := buildContext(t)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool(), "build", "-C", filepath.Join(repoRoot(t), jaegerToolDir),
			"-o", bin, jaegerPackage)
		cmd.WaitDelay = 10 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w: building Jaeger did not finish before the test deadline; "+
					"build it ahead (go build -C %s -o /dev/null %s) or raise go test -timeout",
					err, jaegerToolDir, jaegerPackage)
			}
			jaegerBuild.err = fmt.Errorf("go build %s: %w\n%s", jaegerPackage, err, out)
			return
		}
		t.Logf("built Jaeger in %s", time.Since(start).Round(time.Millisecond))
		jaegerBuild.bin = bin
	})
	if jaegerBuild.err != nil {
		t.Fatal(jaegerBuild.err)
	}
	return jaegerBuild.bin
}

var jaegerBuild struct {
	once sync.Once
	bin  string
	err  error
}
