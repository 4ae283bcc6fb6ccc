//go:build unix

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestCommandSpan checks the span of CMD's process against the CLI client
// span conventions: kind CLIENT, named after process.executable.name, a
// child of the run span, with the child's pid and exit code, error.type on
// failure, process.command_args only when asked for; and that the run span
// keeps none of the child's attributes.
func TestCommandSpan(t *testing.T) {
	tests := []struct {
		name      string
		flags     []string
		env       []string
		argv      []string
		code      int
		errorType string // "" for none
		args      bool   // process.command_args expected
	}{
		{"success", nil, nil, []string{"sh", "-c", "echo $$"}, 0, "", false},
		{"exit status", nil, nil, []string{"sh", "-c", "echo $$; exit 3"}, 3, "3", false},
		{"signal", nil, nil, []string{"sh", "-c", "echo $$; kill -TERM $$"}, 128 + 15, "SIGTERM", false},
		{"trace-args", []string{"--trace-args"}, nil, []string{"sh", "-c", "echo $$ # secret"}, 0, "", true},
		{"env opt-in", nil, []string{traceArgsEnv + "=true"}, []string{"sh", "-c", "echo $$ # secret"}, 0, "", true},
		{"opt-in turned off", []string{"--trace-args=false"}, []string{traceArgsEnv + "=true"}, []string{"sh", "-c", "echo $$ # secret"}, 0, "", false},
		{"full path", nil, nil, []string{"/bin/sh", "-c", "echo $$"}, 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			log, lock := files(dir, "child")
			args := append([]string{"run", "--name", "child", "--log", log, "--lock", lock}, tt.flags...)
			r := runInProcess(t, append(append(args, "--"), tt.argv...)...)
			if r.code != tt.code {
				t.Fatalf("exit status %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			run, proc := spanNamed(r.spans, "RUN child"), spanNamed(r.spans, "sh")
			if run == nil || proc == nil {
				t.Fatalf("want a run span and a span named sh, got %v", spanNames(r.spans))
			}
			if proc.SpanKind() != trace.SpanKindClient {
				t.Errorf("command span kind %v, want client", proc.SpanKind())
			}
			if proc.Parent().SpanID() != run.SpanContext().SpanID() {
				t.Errorf("command span's parent is not the run span")
			}
			attrs := attribute.NewSet(proc.Attributes()...)
			if v, _ := attrs.Value("process.executable.name"); v.AsString() != "sh" {
				t.Errorf("process.executable.name %q, want sh", v.String())
			}
			pid, err := strconv.Atoi(strings.TrimSpace(r.stdout))
			if err != nil {
				t.Fatalf("the command printed %q, not its pid", r.stdout)
			}
			if v, ok := attrs.Value("process.pid"); !ok || v.AsInt64() != int64(pid) {
				t.Errorf("process.pid %s, want the command's %d", v.String(), pid)
			}
			if v, ok := attrs.Value("process.exit.code"); !ok || v.AsInt64() != int64(tt.code) {
				t.Errorf("process.exit.code %s (set: %v), want %d", v.String(), ok, tt.code)
			}
			v, ok := attrs.Value("error.type")
			switch {
			case tt.errorType == "" && ok:
				t.Errorf("error.type %q on a command that succeeded", v.String())
			case tt.errorType != "" && v.AsString() != tt.errorType:
				t.Errorf("error.type %q, want %q", v.String(), tt.errorType)
			}
			if got, want := proc.Status().Code, codes.Unset; tt.errorType != "" && got != codes.Error || tt.errorType == "" && got != want {
				t.Errorf("status %v %q", got, proc.Status().Description)
			}
			v, ok = attrs.Value("process.command_args")
			switch {
			case tt.args && !slices.Equal(v.AsStringSlice(), tt.argv):
				t.Errorf("process.command_args %v, want %q", v.String(), tt.argv)
			case !tt.args && ok:
				t.Errorf("process.command_args %v recorded without the opt-in", v.String())
			}
			// The run span is pigging's: its process.pid is pigging's own.
			for _, kv := range run.Attributes() {
				switch {
				case kv.Key == "process.pid" && kv.Value.AsInt64() == int64(os.Getpid()):
				case strings.HasPrefix(string(kv.Key), "process."):
					t.Errorf("run span has %s=%s: the command's attributes belong to its span", kv.Key, kv.Value.String())
				}
			}
		})
	}
}

// TestCommandSpanNotStarted checks that a command that cannot be started
// still has its span, failed, with error.type and no pid.
func TestCommandSpanNotStarted(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "gone")
	cmd := filepath.Join(dir, "no-such-command")
	r := runInProcess(t, "run", "--name", "gone", "--log", log, "--lock", lock, "--", cmd)
	if r.code != exitNotFound {
		t.Fatalf("exit status %d, want %d\nstderr: %s", r.code, exitNotFound, r.stderr)
	}
	proc := spanNamed(r.spans, "no-such-command")
	if proc == nil {
		t.Fatalf("no command span among %v", spanNames(r.spans))
	}
	attrs := attribute.NewSet(proc.Attributes()...)
	if v, ok := attrs.Value("error.type"); !ok || v.AsString() == "" {
		t.Errorf("error.type %q, want the start error's type", v.String())
	}
	if _, ok := attrs.Value("process.pid"); ok {
		t.Errorf("process.pid on a command that never ran")
	}
	if proc.Status().Code != codes.Error {
		t.Errorf("status %v, want Error", proc.Status().Code)
	}
}

// spanNamed returns the first span named name, or nil.
func spanNamed(spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// spanNames lists the spans' names, for failure messages.
func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name())
	}
	return names
}
