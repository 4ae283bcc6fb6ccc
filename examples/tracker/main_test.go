package main

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/pigging-go/pigging/pigging"
)

// The example runs as a user would run it, in a fresh directory, with the
// trace exporter turned off so that the test's output stays readable.
func TestRunWritesLogAndRemovesLock(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("OTEL_TRACES_EXPORTER", "none")

	if err := run(); err != nil {
		t.Fatalf("run: %v", err)
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| INFO: Starting logging job=tracker`),
		regexp.MustCompile(`\| INFO: Printing hello world\.\.\.$`),
		regexp.MustCompile(`\| INFO: TOTAL SCRIPT TIME: \S+$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("log has %d lines, want %d:\n%s", len(lines), len(want), data)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q, want it to match %s", i+1, lines[i], re)
		}
	}
	if _, err := os.Stat(lockPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after a successful run: %v, want it removed", err)
	}
}

// A lock file left by a run that failed refuses the next run, and the
// refusal is appended to the failed run's log rather than replacing it.
func TestRunRefusedByStaleLock(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	const oldLog = "2026-11-27 20:17:06.123 | ERROR: the previous run failed\n"
	if err := os.WriteFile(logPath, []byte(oldLog), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := `{"pid":4242,"host":"box","job":"tracker","started":"2026-11-27T20:17:06Z","status":"failed","error":"boom"}`
	if err := os.WriteFile(lockPath, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}

	err := run()
	if !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("run = %v, want ErrStaleLock", err)
	}
	if !strings.Contains(err.Error(), "pid 4242") || !strings.Contains(err.Error(), "pigging unlock --lock "+lockPath) {
		t.Errorf("error %q should name the previous pid and say to clear the lock with pigging unlock", err)
	}
	data, _ := os.ReadFile(logPath)
	if !strings.HasPrefix(string(data), oldLog) || !strings.Contains(string(data), "| ERROR: Locked: ") {
		t.Errorf("log should keep the failed run's lines and append the refusal:\n%s", data)
	}
	if got, _ := os.ReadFile(lockPath); string(got) != stale {
		t.Errorf("lock file changed by a refused run:\n%s", got)
	}
}
