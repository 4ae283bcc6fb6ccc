//go:build unix

package reliability_test

// Signals: SIGTERM or SIGINT to a job run with pigging.Run ends the run as
// cancelled, with its spans flushed by Stop, the log closed with the
// cancellation and TOTAL SCRIPT TIME, and the lock kept or removed as the
// stale policy says.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

// exitCancelled is the exit code the signal child chooses when Run
// returns an error that wraps context.Canceled.
const exitCancelled = 7

func init() {
	childScenarios["signal-run"] = childSignalRun
}

// childSignalRun runs a job with pigging.Run that waits for its ctx to be
// done. Spans go to the file SPANS through a batch span processor that is
// never shut down: only Stop's ForceFlush gets them out before the exit.
func childSignalRun() int {
	f, err := os.OpenFile(os.Getenv("SPANS"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		proctest.ChildDie("spans: %v", err)
	}
	exp, err := stdouttrace.New(stdouttrace.WithWriter(f))
	if err != nil {
		proctest.ChildDie("exporter: %v", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	opts := []pigging.Option{pigging.WithName("sigjob"), pigging.WithTracerProvider(tp), pigging.WithOutput(io.Discard)}
	if os.Getenv("STALE") == "takeover" {
		opts = append(opts, pigging.WithStaleLock(pigging.TakeOver))
	}
	err = pigging.Run(context.Background(), os.Getenv("LOG"), os.Getenv("LOCK"), func(ctx context.Context, t *pigging.Tracker) error {
		t.Info("waiting for a signal")
		fmt.Println("ready")
		<-ctx.Done()
		return ctx.Err()
	}, opts...)
	fmt.Printf("run: %v\n", err)
	if errors.Is(err, context.Canceled) {
		return exitCancelled
	}
	return 1
}

// exportedSpan is the part of stdouttrace's JSON the tests read.
type exportedSpan struct {
	Name   string
	Events []struct {
		Name       string
		Attributes []struct {
			Key   string
			Value struct {
				Type  string
				Value any
			}
		}
	}
	Status struct {
		Code string
	}
}

func readSpans(t *testing.T, path string) []exportedSpan {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var spans []exportedSpan
	dec := json.NewDecoder(f)
	for {
		var s exportedSpan
		if err := dec.Decode(&s); err == io.EOF {
			return spans
		} else if err != nil {
			t.Fatalf("spans file: %v", err)
		}
		spans = append(spans, s)
	}
}

func TestSignalCancelsRun(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		for _, stale := range []string{"refuse", "takeover"} {
			t.Run(sig.String()+"/"+stale, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				logPath := filepath.Join(dir, "job.log")
				lockPath := filepath.Join(dir, "job.lock")
				spansPath := filepath.Join(dir, "spans.json")
				c := proctest.StartLines(t, "signal-run", "LOG="+logPath, "LOCK="+lockPath, "SPANS="+spansPath, "STALE="+stale)
				c.WaitLine(t, 30*time.Second, func(s string) bool { return s == "ready" })
				if err := c.Signal(sig); err != nil {
					t.Fatal(err)
				}
				if code := c.Wait(t, 30*time.Second); code != exitCancelled {
					t.Fatalf("child exit %d, want %d; stdout %q stderr %q", code, exitCancelled, c.Output(), c.Stderr())
				}

				// The log ends with the cancellation and the total time.
				lines := proctest.ReadLogLines(t, logPath, false)
				n := len(lines)
				if n != 4 {
					t.Fatalf("log:\n%s", strings.Join(lines, "\n"))
				}
				wantCause := sig.String() + " signal received"
				if !strings.HasSuffix(lines[n-2], "| WARN: Run cancelled: "+wantCause) {
					t.Errorf("second to last line %q, want the cancellation by %q", lines[n-2], wantCause)
				}
				if !strings.Contains(lines[n-1], "| INFO: TOTAL SCRIPT TIME: ") {
					t.Errorf("last line %q, want TOTAL SCRIPT TIME", lines[n-1])
				}

				// The run span reached the exporter with its stop event.
				var run *exportedSpan
				spans := readSpans(t, spansPath)
				for i := range spans {
					if spans[i].Name == "RUN sigjob" {
						run = &spans[i]
					}
				}
				if run == nil {
					t.Fatalf("run span not exported before the exit (Stop did not flush): %d spans", len(spans))
				}
				status := ""
				for _, ev := range run.Events {
					if ev.Name != "stop" {
						continue
					}
					for _, a := range ev.Attributes {
						if a.Key == "cicd.pipeline.result" {
							status, _ = a.Value.Value.(string)
						}
					}
				}
				if status != "cancellation" {
					t.Errorf("stop event cicd.pipeline.result = %q, want cancellation (events %+v)", status, run.Events)
				}
				// A cancelled run did not do its work: status Error, as
				// cicd.pipeline.result=cancellation says.
				if run.Status.Code != "Error" {
					t.Errorf("a cancelled run's span has status %q, want Error", run.Status.Code)
				}

				// The lock: kept as cancelled by default, removed under TakeOver.
				data, err := os.ReadFile(lockPath)
				if stale == "takeover" {
					if !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("TakeOver: lock left after a cancelled run: %v %s", err, data)
					}
					return
				}
				if err != nil {
					t.Fatalf("lock not kept after a cancelled run: %v", err)
				}
				var info pigging.LockInfo
				if err := json.Unmarshal(data, &info); err != nil {
					t.Fatal(err)
				}
				if info.Status != pigging.StateCancellation || info.PID != c.Pid() || info.Error != wantCause {
					t.Errorf("lock = %+v, want pid %d cancelled by %q", info, c.Pid(), wantCause)
				}
				tr, err := pigging.New(logPath, lockPath, pigging.WithOutput(io.Discard))
				if err != nil {
					t.Fatal(err)
				}
				_, err = tr.Start(context.Background())
				if !errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), "was cancelled: "+wantCause) {
					t.Errorf("next Start: %v, want ErrStaleLock saying the run was cancelled", err)
				}
			})
		}
	}
}
