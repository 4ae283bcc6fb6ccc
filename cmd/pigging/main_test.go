package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

// asPigging is the environment variable that makes the test binary run as
// the pigging command, with its arguments, instead of running the tests.
const asPigging = "PIGGING_CMD_TEST_AS_PIGGING"

// testPGDSN is the PostgreSQL the --pg tests use ($PIGGING_PG_DSN when the
// tests start). The variable is then unset, so that every other test, and
// every pigging they start, uses lock files as a user without it does.
var testPGDSN string

func TestMain(m *testing.M) {
	if os.Getenv(asPigging) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	testPGDSN = os.Getenv(pgEnv)
	os.Unsetenv(pgEnv)
	goleak.VerifyTestMain(m)
}

// testLimit bounds each run of pigging in the tests: a hang fails the test.
const testLimit = 60 * time.Second

// result is what one pigging run left.
type result struct {
	code           int
	stdout, stderr string
	spans          []sdktrace.ReadOnlySpan
}

// runInProcess runs the pigging command line args in this process, with
// spans going to a recorder of its own, and fails the test if it does not
// return within testLimit.
func runInProcess(t *testing.T, args ...string) result {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var stdout, stderr bytes.Buffer
	c := &cli{stdout: &stdout, stderr: &syncWriter{w: &stderr}, tp: tp}
	done := make(chan int, 1)
	go func() { done <- c.main(args) }()
	var r result
	select {
	case r.code = <-done:
	case <-time.After(testLimit):
		t.Fatalf("pigging %q did not return within %s", args, testLimit)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.stdout, r.stderr, r.spans = stdout.String(), stderr.String(), rec.Ended()
	return r
}

// files returns the log and lock paths of job in dir.
func files(dir, job string) (log, lock string) {
	return filepath.Join(dir, job+".log"), filepath.Join(dir, job+".lock")
}
