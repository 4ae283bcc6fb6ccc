package pigging_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pigging-go/pigging/pigging"
)

func ExampleNew() {
	// New only checks its arguments; Start touches the files.
	t, err := pigging.New("etl.log", "etl.lock", pigging.WithName("nightly-sync"))
	fmt.Println(t.Job(), err)

	// The lock needs a file of its own.
	_, err = pigging.New("etl.log", "./etl.log")
	var pathErr *pigging.PathError
	fmt.Println(errors.As(err, &pathErr), err)
	// Output:
	// nightly-sync <nil>
	// true pigging: lock path "./etl.log": is the same file as the log path; give the lock its own file
}

func ExampleTracker_Start() {
	dir, _ := os.MkdirTemp("", "pigging-example")
	defer os.RemoveAll(dir)
	logPath, lockPath := filepath.Join(dir, "etl.log"), filepath.Join(dir, "etl.lock")

	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))

	t, err := pigging.New(logPath, lockPath,
		pigging.WithName("nightly-sync"),
		pigging.WithTracerProvider(tp),
		pigging.WithOutput(io.Discard), // where TOTAL SCRIPT TIME is printed
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := t.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	t.Info("Printing hello world...")
	t.Warn("skipped rows", "rows", 3, "stage", "clean")

	// While the run holds the lock, no other run can start.
	other, _ := pigging.New(logPath, lockPath, pigging.WithName("nightly-sync"), pigging.WithTracerProvider(tp))
	_, err = other.Start(context.Background())
	fmt.Println("second run locked out:", errors.Is(err, pigging.ErrLocked))

	if err := t.Stop(); err != nil {
		fmt.Println(err)
	}
	showLog(logPath)
	showSpans(recorder)
	// Output:
	// second run locked out: true
	// INFO: Starting logging job=nightly-sync trace_id=<trace id>
	// INFO: Printing hello world...
	// WARN: skipped rows rows=3 stage=clean
	// WARN: Refused a second run (pid <pid>): <lock file> is held by run pid <pid> ...
	// INFO: TOTAL SCRIPT TIME: <duration>
	// span RUN nightly-sync: exception stop (status Error)
	// span RUN nightly-sync: start log log stop
}

func ExampleRun() {
	dir, _ := os.MkdirTemp("", "pigging-example")
	defer os.RemoveAll(dir)
	logPath, lockPath := filepath.Join(dir, "etl.log"), filepath.Join(dir, "etl.lock")

	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	opts := []pigging.Option{
		pigging.WithName("nightly-sync"),
		pigging.WithTracerProvider(tp),
		pigging.WithOutput(io.Discard),
	}

	err := pigging.Run(context.Background(), logPath, lockPath, func(ctx context.Context, t *pigging.Tracker) error {
		t.Info("loading", "rows", 42)
		return errors.New("load warehouse: connection refused")
	}, opts...)
	fmt.Println("run 1:", err)
	showLog(logPath)
	showSpans(recorder)

	// The failed run kept its lock: the next run refuses to start until a
	// person has read the log and deleted the lock file.
	err = pigging.Run(context.Background(), logPath, lockPath, func(ctx context.Context, t *pigging.Tracker) error {
		return nil
	}, opts...)
	fmt.Println("run 2 refused:", errors.Is(err, pigging.ErrStaleLock))
	// Output:
	// run 1: load warehouse: connection refused
	// INFO: Starting logging job=nightly-sync trace_id=<trace id>
	// INFO: loading rows=42
	// ERROR: load warehouse: connection refused
	// INFO: TOTAL SCRIPT TIME: <duration>
	// span RUN nightly-sync: start log exception stop (status Error)
	// run 2 refused: true
}

func ExampleTracker_Logger() {
	dir, _ := os.MkdirTemp("", "pigging-example")
	defer os.RemoveAll(dir)
	logPath := filepath.Join(dir, "etl.log")

	t, _ := pigging.New(logPath, filepath.Join(dir, "etl.lock"),
		pigging.WithName("nightly-sync"),
		pigging.WithTracerProvider(sdktrace.NewTracerProvider()),
		pigging.WithOutput(io.Discard),
	)
	if _, err := t.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	// Code that takes a *slog.Logger writes to the same log and spans.
	logger := t.Logger()
	logger.Info("connected", slog.Group("db", "host", "warehouse", "port", 5432))
	logger.With("stage", "load").Warn("slow insert", "took", 1500*time.Millisecond)
	logger.Debug("not written: below the minimum level (WithMinLevel)")

	_ = t.Stop()
	showLog(logPath)
	// Output:
	// INFO: Starting logging job=nightly-sync trace_id=<trace id>
	// INFO: connected db.host=warehouse db.port=5432
	// WARN: slow insert stage=load took=1.5s
	// INFO: TOTAL SCRIPT TIME: <duration>
}

var (
	exampleTraceID  = regexp.MustCompile(`trace_id=[0-9a-f]{32}`)
	exampleDuration = regexp.MustCompile(`TOTAL SCRIPT TIME: \S+`)
	exampleLocked   = regexp.MustCompile(`Refused a second run \(pid \d+\): \S+ is held by run pid \d+ .*`)
)

// showLog prints a log file without what changes from run to run: the
// timestamps, trace ids, durations and the lock holder's details.
func showLog(path string) {
	data, _ := os.ReadFile(path)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		_, line, _ = strings.Cut(line, " | ")
		line = exampleTraceID.ReplaceAllString(line, "trace_id=<trace id>")
		line = exampleDuration.ReplaceAllString(line, "TOTAL SCRIPT TIME: <duration>")
		line = exampleLocked.ReplaceAllString(line, "Refused a second run (pid <pid>): <lock file> is held by run pid <pid> ...")
		fmt.Println(line)
	}
}

// showSpans prints each ended span's name, events and status.
func showSpans(recorder *tracetest.SpanRecorder) {
	for _, s := range recorder.Ended() {
		fmt.Print("span ", s.Name(), ":")
		for _, e := range s.Events() {
			fmt.Print(" ", e.Name)
		}
		if s.Status().Code != 0 {
			fmt.Print(" (status ", s.Status().Code, ")")
		}
		fmt.Println()
	}
}
