package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestPiggingLogsAndMetrics runs examples/etl, succeeding and with -fail,
// with all three signals over OTLP, and reads what pigging itself emitted
// back from a real collector pipeline: the trace from Jaeger's query API,
// the log records (with the run's trace id and the stage names) from the
// debug exporter, and the run and stage metrics from the prometheus
// exporter, under the names it derives: pigging_run_duration_seconds
// (pigging.run.duration, unit s) and pigging_stage_records_total
// (pigging.stage.records, unit {record}). Each run sends each signal in
// one request when no periodic export falls within the run, counted on the
// way to the receiver: Stop flushes all three, and the shutdown after it
// has nothing new to send.
func TestPiggingLogsAndMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs a Jaeger build; runs in the full test command")
	}
	buildJob(t)
	j := startJaeger(t)
	for _, want := range []struct {
		outcome
		result string
	}{{okRun, "success"}, {failRun, "failure"}} {
		t.Run(want.result, func(t *testing.T) {
			service := uniqueService("etl-signals")
			since := time.Now()
			receiver := countRequests(t, j.OTLPHTTP)
			res := runJob(t, map[string]string{
				"OTEL_TRACES_EXPORTER":        "otlp",
				"OTEL_METRICS_EXPORTER":       "otlp",
				"OTEL_LOGS_EXPORTER":          "otlp",
				"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
				"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.URL,
				"OTEL_SERVICE_NAME":           service,
				// Exceptions as log records: the load's failed attempts
				// (the first always fails) must become records too.
				"OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN": "logs",
				// No periodic export during the run, however slow the
				// machine: what is counted is the end's flush and shutdown.
				"OTEL_BSP_SCHEDULE_DELAY":  "60000",
				"OTEL_BLRP_SCHEDULE_DELAY": "60000",
			}, want.args...)
			checkOutcome(t, res, want.outcome)
			// The job has exited: every request it made has been counted.
			counts := receiver.Counts()
			for _, path := range []string{"/v1/traces", "/v1/metrics", "/v1/logs"} {
				if counts["POST "+path] != 1 {
					t.Errorf("POST %s: %d requests in the run, want 1 (all: %v)", path, counts["POST "+path], counts)
				}
			}
			spans := waitSpans(t, j, service, since, traceComplete)
			traceID := ""
			for _, s := range spans {
				if s.Name == runSpanName {
					traceID = s.TraceID
				}
			}

			// Log records: one per record of etl.log, in the run's trace,
			// naming the stages.
			recs := j.WaitLogRecords(t, service, func(recs []LogRecord) bool {
				for _, r := range recs {
					if r.EventName == "pigging.run.stop" {
						return true
					}
				}
				return false
			})
			stages := map[string]bool{}
			exceptions := 0
			for _, r := range recs {
				if r.Scope != "github.com/pigging-go/pigging/pigging" {
					continue
				}
				if !strings.EqualFold(r.TraceID, traceID) {
					t.Errorf("log record %s is not in the run's trace %s", r, traceID)
				}
				if r.Attrs["pigging.job"] != "etl" {
					t.Errorf("log record %s has no pigging.job", r)
				}
				if st := r.Attrs["pigging.stage.name"]; st != "" {
					stages[st] = true
				}
				if r.EventName == "exception" {
					exceptions++
					if r.Attrs["pigging.stage.name"] != "warehouse" || r.Attrs["exception.type"] == "" || r.Attrs["exception.type"] == "_OTHER" || r.Attrs["exception.message"] == "" {
						t.Errorf("exception record %s, want the load stage's, with its fully qualified exception.type", r)
					}
				}
				if r.EventName == "pigging.run.stop" && r.Attrs["cicd.pipeline.result"] != want.result {
					t.Errorf("stop record %s, want cicd.pipeline.result=%s", r, want.result)
				}
			}
			if exceptions == 0 {
				t.Error("no exception log record under OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN=logs; the load's first attempt fails")
			}
			for _, s := range spans {
				if n := len(s.EventsNamed("exception")); n > 0 {
					t.Errorf("span %q has %d exception events under OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN=logs", s.Name, n)
				}
			}
			for _, st := range etlStages {
				if !stages[st.stage] {
					t.Errorf("no log record names stage %q; got %v", st.stage, stages)
				}
			}

			// Metrics, scraped from the prometheus exporter.
			labels := map[string]string{"job": service, "pigging_run_result": want.result}
			m := j.WaitMetrics(t, func(m Metrics) bool {
				return len(m.Find("pigging_run_duration_seconds_count", labels)) == 1 &&
					len(m.Find("pigging_stage_records_total", map[string]string{"job": service})) > 0
			})
			if s := m.Find("pigging_run_duration_seconds_count", labels); s[0].Value != 1 {
				t.Errorf("pigging_run_duration_seconds_count = %v, want 1", s[0])
			}
			if s := m.Find("cicd_pipeline_run_duration_seconds_count", map[string]string{"job": service, "cicd_pipeline_name": "etl", "cicd_pipeline_result": want.result}); len(s) != 1 || s[0].Value != 1 {
				t.Errorf("cicd_pipeline_run_duration_seconds_count = %v, want the one run", s)
			}
			in := m.Find("pigging_stage_records_total", map[string]string{"job": service, "pigging_stage_name": "orders-csv", "pigging_records_direction": "out"})
			if len(in) != 1 || in[0].Value != 4000 {
				t.Errorf("pigging_stage_records_total for extract orders-csv out = %v, want 4000", in)
			}
			clean := m.Find("pigging_stage_records_total", map[string]string{"job": service, "pigging_stage_name": "clean", "pigging_records_direction": "out"})
			if len(clean) != 1 || clean[0].Value != 3927 {
				t.Errorf("pigging_stage_records_total for transform clean out = %v, want 3927", clean)
			}
			if want.result == "success" {
				if s := m.Find("pigging_run_last_success_time_seconds", map[string]string{"job": service}); len(s) != 1 || s[0].Value < float64(since.Unix()) {
					t.Errorf("pigging_run_last_success_time_seconds = %v, want the time of this run", s)
				}
			}
		})
	}
}
