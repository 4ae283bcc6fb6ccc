// Package e2e holds end-to-end tests that run a real Jaeger (built from the
// separate module in internal/tools/jaeger, so the library's own go.mod never
// carries Jaeger's dependencies), run the example job against it over OTLP/HTTP
// and OTLP/gRPC, and read the traces back through Jaeger's query API.
//
// The tests need no Docker and no network beyond 127.0.0.1. The first build of
// Jaeger takes minutes on a small machine; later runs reuse the Go build cache.
// To build it ahead of the tests:
//
//	go build -C internal/tools/jaeger -o /dev/null github.com/jaegertracing/jaeger/cmd/jaeger
package e2e
