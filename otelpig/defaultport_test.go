package otelpig_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/pigging-go/pigging/otelpig"
)

// defaultPortsLock serializes the tests, in any process on this machine,
// that listen on the OTLP default ports 4317 and 4318. Other tests of this
// repository (e2e included) listen on free ports only.
var defaultPortsLock = filepath.Join(os.TempDir(), "pigging-otlp-default-ports.lock")

// listenDefault listens on 127.0.0.1:port, where the OTLP exporters send
// when no endpoint variable is set ("localhost" resolves there on this
// machine). It holds defaultPortsLock until the test ends, and fails the
// test with a message saying what to do when another program has the port.
func listenDefault(t *testing.T, port string) net.Listener {
	t.Helper()
	lock := flock.New(defaultPortsLock)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ok, err := lock.TryLockContext(ctx, 100*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("waiting for %s (held by another test process using the OTLP default ports): %v", defaultPortsLock, err)
	}
	t.Cleanup(func() { _ = lock.Unlock() })

	addr := net.JoinHostPort("127.0.0.1", port)
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("%s is in use by another program (a local collector or Jaeger?). "+
			"This test checks that otelpig sends to the OTLP default endpoint when no "+
			"OTEL_EXPORTER_OTLP_*ENDPOINT is set, so it needs that port: stop the program and run it again (%v)", addr, err)
	}
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	return ln
}

// TestOTLPDefaultEndpointIsPlain sends all three signals with no endpoint
// variable set: they must reach a plain (not TLS) receiver on the
// specification's default port, 4318 for http/protobuf and 4317 for gRPC.
func TestOTLPDefaultEndpointIsPlain(t *testing.T) {
	for _, tc := range []struct {
		protocol, port string
		want           []string
	}{
		{"http/protobuf", "4318", []string{"POST /v1/logs", "POST /v1/metrics", "POST /v1/traces"}},
		{"grpc", "4317", []string{"grpc logs", "grpc metrics", "grpc traces"}},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			isolate(t)
			c := &collector{}
			ln := listenDefault(t, tc.port)
			if tc.protocol == "grpc" {
				c.serveGRPC(t, ln)
			} else {
				c.serveHTTP(t, ln)
			}
			setenv(t, map[string]string{
				"OTEL_TRACES_EXPORTER":        "otlp",
				"OTEL_METRICS_EXPORTER":       "otlp",
				"OTEL_LOGS_EXPORTER":          "otlp",
				"OTEL_EXPORTER_OTLP_PROTOCOL": tc.protocol,
			})
			shutdown := setup(t, otelpig.WithShutdownTimeout(10*time.Second))
			sc := runJobWithSignals()
			if err := shutdown(context.Background()); err != nil {
				t.Fatalf("shutdown: %v (a TLS handshake against the plain receiver fails this way)", err)
			}
			got := c.seen()
			slices.Sort(got.Requests)
			if !slices.Equal(got.Requests, tc.want) {
				t.Errorf("requests = %q, want %q", got.Requests, tc.want)
			}
			checkAllThree(t, got, sc)
		})
	}
}
