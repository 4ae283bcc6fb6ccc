// Package e2e holds end-to-end tests that run a real Jaeger (built from the
// separate module in internal/tools/jaeger, so the library's own go.mod never
// carries Jaeger's dependencies), run the example job against it over OTLP/HTTP
// and OTLP/gRPC, and read the traces back through Jaeger's query API.
//
// Jaeger v2 is an OpenTelemetry Collector distribution, and its configuration
// here also has a logs pipeline (OTLP in, the debug exporter printing each
// record on Jaeger's stdout) and a metrics pipeline (OTLP in, the prometheus
// exporter on a free port). TestSignalsOTLP sends all three signals through
// otelpig.Setup and finds each in its pipeline. The helpers are meant for any
// test that needs to see what reached a collector: jaeger.LogRecords and
// WaitLogRecords return the parsed log records of a service, and
// jaeger.ScrapeMetrics and WaitMetrics the scraped metric families (Metrics.Find
// picks samples by name and labels); waitSpans does the same for traces.
//
// TestAlertsInPrometheus does the same with a real Prometheus, built from
// internal/tools/prometheus with -tags remove_all_sd: its OTLP receiver takes
// the job's metrics and it loads deploy/prometheus/pigging-rules.yml, whose
// alerts the test evaluates through the query API (see docs/alerts.md). To
// build it ahead of the tests:
//
//	go build -C internal/tools/prometheus -tags remove_all_sd -o /dev/null github.com/prometheus/prometheus/cmd/prometheus
//
// The tests need no Docker and no network beyond 127.0.0.1, and every port is
// a free one picked at start, so they never take the OTLP default ports. They
// are skipped under go test -short. The first build of Jaeger takes minutes on a
// small machine; later runs reuse the Go build cache. To build it ahead of the
// tests:
//
//	go build -C internal/tools/jaeger -o /dev/null github.com/jaegertracing/jaeger/cmd/jaeger
package e2e
