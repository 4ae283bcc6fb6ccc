package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// jaegerHealthTimeout bounds the wait from exec to a 200 on /status;
// generous for a loaded 2-core CI machine.
const jaegerHealthTimeout = 90 * time.Second

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

	*service
	logs *logSink // the logs pipeline's debug exporter output, parsed
}

// startJaeger builds Jaeger, starts it on free loopback ports, waits until
// its health check answers and registers its stop with t.Cleanup.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := buildTool(t, "Jaeger", jaegerToolDir, jaegerPackage)
	cfg := filepath.Join(repoRoot(t), jaegerToolDir, "config.yaml")
	return startRetrying(t, "Jaeger", func(int) (*jaeger, error) { return launchJaeger(t, bin, cfg) })
}

func launchJaeger(t *testing.T, bin, cfg string) (*jaeger, error) {
	t.Helper()
	ports := freePorts(t, 6)
	j := &jaeger{
		OTLPGRPC:   "127.0.0.1:" + ports[0],
		OTLPHTTP:   "127.0.0.1:" + ports[1],
		QueryHTTP:  "127.0.0.1:" + ports[2],
		Health:     "127.0.0.1:" + ports[4],
		Prometheus: "127.0.0.1:" + ports[5],
		logs:       &logSink{},
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
	cmd.Stdout = j.logs
	s, took, err := startService(t, "Jaeger", cmd, "http://"+j.Health+"/status", jaegerHealthTimeout)
	if err != nil {
		return nil, err
	}
	j.service = s
	t.Logf("Jaeger healthy after %s (OTLP/HTTP %s, OTLP/gRPC %s, query %s, prometheus %s)",
		took.Round(time.Millisecond), j.OTLPHTTP, j.OTLPGRPC, j.QueryHTTP, j.Prometheus)
	return j, nil
}
