//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
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
