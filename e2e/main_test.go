package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jobPackage is the program under test, built from the repository root as
// binDir/etl. Any program with the examples/etl contract fits: flag -fail
// (the load stage fails for good, exit code 1, the lock stays); etl.log and
// etl.lock in its working directory; traces exported as the OTEL_* variables
// say; the span shape that etlStages describes.
const jobPackage = "./examples/etl"

// jobTimeout bounds one run of the job, exporting included.
const jobTimeout = 2 * time.Minute

// binDir holds the binaries built for this test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pigging-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the directory of the root go.mod above the test's directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			bytes.Contains(data, []byte("module github.com/pigging-go/pigging\n")) {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			t.Fatalf("no go.mod of github.com/pigging-go/pigging above %s", dir)
		}
		d = parent
	}
}

// goTool is the go command. go test puts its own GOROOT/bin first in PATH.
func goTool() string { return "go" }

// buildJob builds jobPackage as binDir/etl, once per test binary. When the
// tests run with -race the job is built with -race too.
func buildJob(t *testing.T) string {
	t.Helper()
	var flags []string
	if raceEnabled {
		flags = append(flags, "-race")
	}
	return buildTool(t, "the job", ".", jobPackage, flags...)
}

// jobResult is what one run of the job left behind.
type jobResult struct {
	Dir      string // working directory, with etl.log and maybe etl.lock
	ExitCode int
	Stdout   string
	Stderr   string
	Elapsed  time.Duration // exec to exit
}

// String describes the run for failure messages.
func (r jobResult) String() string {
	log, _ := os.ReadFile(filepath.Join(r.Dir, "etl.log"))
	return fmt.Sprintf("exit code %d after %s\n--- stdout ---\n%s--- stderr ---\n%s--- etl.log ---\n%s--- end ---",
		r.ExitCode, r.Elapsed.Round(time.Millisecond), r.Stdout, r.Stderr, log)
}

// runJob runs the job once in a fresh directory with the given OTEL_*
// settings (any OTEL_* or TRACEPARENT of the test's own environment is left
// out) and returns when it has exited.
func runJob(t *testing.T, otelEnv map[string]string, args ...string) jobResult {
	t.Helper()
	bin := buildJob(t)
	res := jobResult{Dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = res.Dir
	cmd.WaitDelay = 5 * time.Second
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OTEL_") || strings.HasPrefix(kv, "TRACEPARENT=") ||
			strings.HasPrefix(kv, "TRACESTATE=") || strings.HasPrefix(kv, "BAGGAGE=") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	for k, v := range otelEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	res.Elapsed = time.Since(start)
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("etl %s did not finish within %s\n%s", strings.Join(args, " "), jobTimeout, res)
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case err != nil:
		t.Fatalf("running etl: %v", err)
	}
	return res
}

// uniqueService returns a service name no other run of this test binary uses,
// so each run's trace can be found alone.
func uniqueService(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
