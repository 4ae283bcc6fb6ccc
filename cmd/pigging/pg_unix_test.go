//go:build unix

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgTable returns a table of its own for a test in the database of
// $PIGGING_PG_DSN, dropped at cleanup; the test is skipped without it.
func pgTable(t *testing.T) string {
	t.Helper()
	if testPGDSN == "" {
		t.Skip("needs PostgreSQL: set " + pgEnv + " (CI starts a throwaway cluster)")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	table := "pigging_cmd_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testPGDSN)
		if err != nil {
			t.Errorf("dropping %s: %v", table, err)
			return
		}
		defer conn.Close(ctx)
		for _, name := range []string{table, table + "_runs"} {
			if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
				t.Errorf("dropping %s: %v", name, err)
			}
		}
		if _, err := conn.Exec(ctx, "DROP SEQUENCE IF EXISTS "+pgx.Identifier{table + "_token"}.Sanitize()); err != nil {
			t.Errorf("dropping %s_token: %v", table, err)
		}
	})
	return table
}

// A shell job on two "hosts" (two processes) runs once through the
// PostgreSQL lock; its failure blocks both until unlock --pg; the refusal
// names the failed run's log; status, history and unlock work from a third
// process; the password never shows.
func TestRunPG(t *testing.T) {
	table := pgTable(t)
	dir := t.TempDir()
	logA, logB := filepath.Join(dir, "etl-hostA.log"), filepath.Join(dir, "etl-hostB.log")
	release := filepath.Join(dir, "release")
	u, err := url.Parse(testPGDSN)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	noSecret := func(what, s string) {
		t.Helper()
		if password != "" && strings.Contains(s, password) {
			t.Errorf("%s shows the password: %q", what, s)
		}
	}

	// Host A takes the lock, its DSN in the environment.
	a := startPigging(t, dir, []string{pgEnv + "=" + testPGDSN}, "run", "--pg-table", table, "--name", "etl", "--log", logA, "--",
		"sh", "-c", "echo started; while [ ! -e "+release+" ]; do sleep 0.02; done; echo failing >&2; exit 3")
	waitForLine(t, logA, "started stream=stdout", 30*time.Second)

	// Host B is refused while A runs, with --pg on its command line.
	r := runInProcess(t, "run", "--pg", testPGDSN, "--pg-table", table, "--name", "etl", "--log", logB, "--", "true")
	if r.code != exitLocked || !strings.Contains(r.stderr, "is held by run pid ") {
		t.Fatalf("second host while the first runs: %d %q, want %d", r.code, r.stderr, exitLocked)
	}
	noSecret("the refusal", r.stderr)
	r = runInProcess(t, "status", "--pg", testPGDSN, "--pg-table", table, "--name", "etl")
	if r.code != exitRunning || !strings.Contains(r.stdout, ": running: pid ") {
		t.Fatalf("status --pg while the job runs: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runInProcess(t, "unlock", "--pg", testPGDSN, "--pg-table", table, "--name", "etl")
	if r.code != exitRunning {
		t.Fatalf("unlock --pg of a live lock: %d %q %q", r.code, r.stdout, r.stderr)
	}

	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t, testLimit); code != 3 {
		t.Fatalf("host A: exit %d, want 3: %s", code, a.stderr.String())
	}

	// The failure blocks host B, and its refusal points at host A's log.
	r = runInProcess(t, "run", "--pg", testPGDSN, "--pg-table", table, "--name", "etl", "--log", logB, "--", "true")
	if r.code != exitLocked || !strings.Contains(r.stderr, "failed: exit status 3") || !strings.Contains(r.stderr, "read "+logA) ||
		!strings.Contains(r.stderr, "pigging unlock --pg") || strings.Contains(r.stderr, "read "+logB) {
		t.Fatalf("second host after a failure: %d %q, want 75 naming %s and unlock --pg", r.code, r.stderr, logA)
	}
	noSecret("the refusal", r.stderr)

	r = runInProcess(t, "status", "--pg", testPGDSN, "--pg-table", table, "--name", "etl", "--max-age", "1h")
	if r.code != exitStale || !strings.Contains(r.stdout, "stale: ") || !strings.Contains(r.stdout, "last failure: failure") || !strings.Contains(r.stdout, "pigging unlock --pg") {
		t.Fatalf("status --pg after the failure: %d %q %q", r.code, r.stdout, r.stderr)
	}
	noSecret("status", r.stdout+r.stderr)
	r = runInProcess(t, "history", "--pg", testPGDSN, "--pg-table", table, "--name", "etl")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != exitOK || len(lines) != 4 || !strings.HasPrefix(lines[1], "skip") || !strings.HasPrefix(lines[2], "failure") || !strings.Contains(lines[2], " 3 ") || !strings.HasPrefix(lines[3], "skip") {
		t.Fatalf("history --pg: %d %q %q, want skip, failure (exit 3), skip", r.code, r.stdout, r.stderr)
	}

	r = runInProcess(t, "unlock", "--pg", testPGDSN, "--pg-table", table, "--name", "etl")
	if r.code != exitOK || !strings.Contains(r.stdout, "cleared ") {
		t.Fatalf("unlock --pg of the stale lock: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// The failed run's log, on this host, says who cleared its lock.
	recs := readLog(t, logA)
	if last := recs[len(recs)-1]; last.level != "WARN" || !strings.HasPrefix(last.text, "Lock cleared by ") || !strings.Contains(last.text, "failed: exit status 3") {
		t.Errorf("last record of the failed run's log: %+v", last)
	}
	r = runInProcess(t, "run", "--pg", testPGDSN, "--pg-table", table, "--name", "etl", "--log", logB, "--", "true")
	if r.code != exitOK {
		t.Fatalf("second host after unlock: %d %q", r.code, r.stderr)
	}
	r = runInProcess(t, "status", "--pg", testPGDSN, "--pg-table", table, "--name", "etl", "--max-age", "1h")
	if r.code != exitFree || !strings.Contains(r.stdout, "last success: ended") {
		t.Fatalf("status --pg after a success: %d %q %q", r.code, r.stdout, r.stderr)
	}
}
