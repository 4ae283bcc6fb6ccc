//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/pigging"
)

// writeHistory writes entries, oldest first, as the history of the lock
// file lock, in the documented format: one JSON object a line.
func writeHistory(t *testing.T, lock string, entries ...pigging.RunEntry) {
	t.Helper()
	var b []byte
	for _, e := range entries {
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b = append(append(b, line...), '\n')
	}
	if err := os.WriteFile(pigging.HistoryPath(lock), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func entry(result pigging.RunState, started string, d time.Duration, errText string) pigging.RunEntry {
	s, err := time.Parse(time.RFC3339, started)
	if err != nil {
		panic(err)
	}
	return pigging.RunEntry{Job: "nightly", Host: "etl-1", PID: 42, Started: s, Ended: s.Add(d),
		Duration: d.Seconds(), Result: result, Error: errText, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		Stages: []pigging.StageTotal{{Kind: "extract", Name: "customers", Out: 1000, Calls: 1}, {Kind: "load", Name: "warehouse", In: 1000, Calls: 1}}}
}

// A job that never ran turns a check red; one that succeeded in time
// does not; the exit statuses without a check flag stay 0/1/2.
func TestStatusChecksFromHistory(t *testing.T) {
	dir := t.TempDir()
	_, lock := files(dir, "nightly")

	r := runInProcess(t, "status", "--lock", lock)
	if r.code != exitFree || !strings.Contains(r.stdout, "never ran") {
		t.Fatalf("status of a job that never ran: %d %q, want 0 saying never ran", r.code, r.stdout)
	}
	r = runInProcess(t, "status", "--lock", lock, "--max-age", "26h")
	if r.code != exitLate || !strings.Contains(r.stdout, "LATE: the job never ran") {
		t.Fatalf("check of a job that never ran: %d %q, want %d LATE", r.code, r.stdout, exitLate)
	}

	writeHistory(t, lock,
		entry(pigging.StateSuccess, "2026-12-04T02:00:00Z", 4*time.Second, ""),
		entry(pigging.StateFailure, "2026-12-05T02:00:00Z", 3*time.Second, "exit status 1\nmore"),
		entry(pigging.StateSkip, "2026-12-05T09:00:00Z", 0, "locked"),
	)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--now", "2026-12-05T03:00:00Z"}, exitFree, "last success: ended 2026-12-04T02:00:04Z (24h59m56s ago) after 4s on etl-1"},
		{[]string{"--now", "2026-12-05T03:00:00Z"}, exitFree, "last failure: failure, ended 2026-12-05T02:00:03Z (59m57s ago) after 3s on etl-1: exit status 1 ..."},
		{[]string{"--now", "2026-12-05T03:00:00Z", "--max-age", "26h"}, exitFree, "last success"},
		{[]string{"--now", "2026-12-05T04:00:05Z", "--max-age", "26h"}, exitLate, "LATE: the last success ended 2026-12-04T02:00:04Z, none within --max-age 26h0m0s"},
		{[]string{"--now", "2026-12-05T02:59:00Z", "--every", "CRON_TZ=UTC 0 2 * * *"}, exitFree, "last success"},
		{[]string{"--now", "2026-12-05T03:01:00Z", "--every", "CRON_TZ=UTC 0 2 * * *"}, exitLate, "since the run scheduled at 2026-12-05T02:00:00Z (grace 1h0m0s)"},
		{[]string{"--now", "2026-12-05T02:31:00Z", "--every", "CRON_TZ=UTC 0 2 * * *", "--grace", "30m"}, exitLate, "LATE"},
	}
	for _, c := range cases {
		r := runInProcess(t, append([]string{"status", "--lock", lock}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stdout, c.want) {
			t.Errorf("status %q: %d %q %q, want %d and %q", c.args, r.code, r.stdout, r.stderr, c.code, c.want)
		}
	}

	r = runInProcess(t, "status", "--lock", lock, "--json", "--now", "2026-12-05T04:00:05Z", "--max-age", "26h")
	var js struct {
		State       string            `json:"state"`
		NeverRan    bool              `json:"never_ran"`
		LastSuccess *pigging.RunEntry `json:"last_success"`
		LastFailure *pigging.RunEntry `json:"last_failure"`
		Due         time.Time         `json:"due"`
		Findings    []map[string]any  `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil {
		t.Fatalf("status --json: %v in %q", err, r.stdout)
	}
	if r.code != exitLate || js.State != "free" || js.NeverRan || js.LastSuccess == nil || js.LastSuccess.Result != pigging.StateSuccess ||
		js.LastFailure == nil || js.LastFailure.Error != "exit status 1\nmore" || len(js.Findings) != 1 ||
		!js.Due.Equal(time.Date(2026, 12, 4, 2, 0, 5, 0, time.UTC)) {
		t.Errorf("status --json: %d %+v", r.code, js)
	}

	for _, bad := range [][]string{{"--every", "0 25 * * *"}, {"--now", "yesterday"}, {"--max-age", "-1h"}} {
		r := runInProcess(t, append([]string{"status", "--lock", lock}, bad...)...)
		if r.code != exitLockUsage || !strings.Contains(r.stderr, bad[1]) && !strings.Contains(r.stderr, "positive") {
			t.Errorf("status %q: %d %q, want %d naming the value", bad, r.code, r.stderr, exitLockUsage)
		}
	}
}

// A live run past --max-runtime is overrunning (4); within it, a check
// says healthy (0) where status without checks says running (1).
func TestStatusMaxRuntime(t *testing.T) {
	dir := t.TempDir()
	logPath, lock := files(dir, "nightly")
	writeHistory(t, lock, entry(pigging.StateSuccess, "2026-12-04T02:00:00Z", 4*time.Second, ""))
	release := filepath.Join(dir, "release")
	holder := startPigging(t, dir, nil, "run", "--name", "nightly", "--", "sh", "-c",
		"echo started; while [ ! -e "+release+" ]; do sleep 0.02; done")
	waitForLine(t, logPath, "started stream=stdout", 30*time.Second)

	if r := runInProcess(t, "status", "--lock", lock); r.code != exitRunning {
		t.Errorf("status of a live run: %d %q", r.code, r.stdout)
	}
	if r := runInProcess(t, "status", "--lock", lock, "--max-runtime", "1h"); r.code != exitFree || strings.Contains(r.stdout, "OVERRUN") {
		t.Errorf("check of a live run within --max-runtime: %d %q, want 0", r.code, r.stdout)
	}
	later := time.Now().Add(3*time.Hour + 30*time.Second).UTC().Format(time.RFC3339)
	r := runInProcess(t, "status", "--lock", lock, "--max-runtime", "2h", "--now", later)
	if r.code != exitOverrun || !strings.Contains(r.stdout, "OVERRUN: the live run has been going 3h") || !strings.Contains(r.stdout, "past --max-runtime 2h0m0s") {
		t.Errorf("check of a live run past --max-runtime: %d %q, want %d", r.code, r.stdout, exitOverrun)
	}

	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := holder.wait(t, testLimit); code != 0 {
		t.Fatalf("holder exit %d: %s", code, holder.stderr.String())
	}
}

// history lays the runs out newest first, with their records, exit status,
// error and, with PIGGING_TRACE_URL, trace links; --json and -n too.
func TestHistoryCommand(t *testing.T) {
	dir := t.TempDir()
	_, lock := files(dir, "nightly")
	if r := runInProcess(t, "history", "--lock", lock); r.code != exitOK || !strings.Contains(r.stdout, "no run in its history") {
		t.Fatalf("history of a job that never ran: %d %q", r.code, r.stdout)
	}
	code := 1
	failed := entry(pigging.StateFailure, "2026-12-05T02:00:00Z", 3*time.Second, "exit status 1")
	failed.ExitCode = &code
	writeHistory(t, lock, entry(pigging.StateSuccess, "2026-12-04T02:00:00Z", 4*time.Second, ""), failed)

	t.Setenv(traceURLEnv, "http://jaeger.example:16686/trace/{trace_id}")
	r := runInProcess(t, "history", "--lock", lock)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if r.code != exitOK || len(lines) != 3 {
		t.Fatalf("history: %d %q", r.code, r.stdout)
	}
	for i, want := range [][]string{
		{"RESULT", "STARTED", "DURATION", "RECORDS", "EXIT", "ERROR", "TRACE"},
		{"failure", "2026-12-05T02:00:00Z", "3s", "1000 extracted, 1000 loaded", " 1 ", "etl-1", "exit status 1", "http://jaeger.example:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"},
		{"success", "2026-12-04T02:00:00Z", "4s", " - ", "etl-1"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("history line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
	r = runInProcess(t, "history", "--lock", lock, "-n", "1", "--json")
	var js []struct {
		pigging.RunEntry
		TraceURL string `json:"trace_url"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || len(js) != 1 || js[0].Result != pigging.StateFailure ||
		js[0].ExitCode == nil || *js[0].ExitCode != 1 || !strings.HasSuffix(js[0].TraceURL, "/trace/4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Errorf("history -n 1 --json: %q (%v)", r.stdout, err)
	}
	if r := runInProcess(t, "history", "--lock", lock, "-n", "-1"); r.code != exitLockUsage {
		t.Errorf("history -n -1: %d", r.code)
	}
}
