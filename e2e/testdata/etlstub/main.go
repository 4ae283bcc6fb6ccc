// Command etlstub stands in for examples/etl in the end-to-end tests: it
// emits the same trace shape (design §3.3 and §5) with the OTel SDK alone,
// keeps etl.log and etl.lock in its working directory the way the Tracker
// does, and takes the same flags. It lets the Jaeger harness be proved
// without depending on the pigging packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const (
	logPath  = "etl.log"
	lockPath = "etl.lock"
)

func main() {
	fail := flag.Bool("fail", false, "the load stage fails permanently")
	_ = flag.Bool("panic", false, "accepted for compatibility; ignored")
	_ = flag.String("in", "", "accepted for compatibility; ignored")
	_ = flag.String("out", "", "accepted for compatibility; ignored")
	flag.Parse()
	os.Exit(run(*fail))
}

func run(fail bool) int {
	ctx := context.Background()
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "exporter:", err)
		return 2
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(sdkresource.Default()),
	)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "trace shutdown:", err)
		}
	}()
	tr := tp.Tracer("github.com/pigging-go/pigging")

	if _, err := os.Stat(lockPath); err == nil {
		appendLog("ERROR", "Locked")
		fmt.Fprintln(os.Stderr, "locked: delete", lockPath, "to run again")
		return 1
	}
	if err := os.WriteFile(lockPath, []byte(`{"status":"running"}`), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_ = os.Remove(logPath)
	began := time.Now()

	ctx, run := tr.Start(ctx, "etl", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("pigging.job", "etl"),
			attribute.String("pigging.log.path", logPath),
			attribute.String("pigging.lock.path", lockPath),
		))
	run.AddEvent("start")
	logTo(run, "INFO", "Starting logging")

	orders := stage(ctx, tr, "extract", "orders-csv", -1, 5, nil)
	clean := stage(ctx, tr, "transform", "clean", orders, 4, nil)
	agg := stage(ctx, tr, "transform", "aggregate", clean, 2, nil)
	var loadErr error
	if fail {
		loadErr = errors.New("warehouse: connection refused")
	}
	stage(ctx, tr, "load", "warehouse", agg, -1, loadErr)

	status := "ok"
	if loadErr != nil {
		status = "failed"
		logTo(run, "ERROR", loadErr.Error())
		run.RecordError(loadErr)
		run.SetStatus(codes.Error, loadErr.Error())
	}
	d := time.Since(began)
	appendLog("INFO", "TOTAL SCRIPT TIME: "+d.String())
	run.AddEvent("stop", trace.WithAttributes(
		attribute.String("pigging.status", status),
		attribute.Int64("pigging.duration_ms", d.Milliseconds()),
	))
	run.End()
	if loadErr != nil {
		_ = os.WriteFile(lockPath, []byte(`{"status":"failed"}`), 0o644)
		return 1
	}
	_ = os.Remove(lockPath)
	return 0
}

// stage makes a stage span (and, for load, attempt spans) and returns out.
// in or out below zero is not recorded.
func stage(ctx context.Context, tr trace.Tracer, kind, name string, in, out int, err error) int {
	ctx, s := tr.Start(ctx, kind+" "+name, trace.WithAttributes(
		attribute.String("pigging.stage.kind", kind),
		attribute.String("pigging.stage.name", name),
	))
	defer s.End()
	if in >= 0 {
		s.SetAttributes(attribute.Int("pigging.records.in", in))
	}
	if out >= 0 {
		s.SetAttributes(attribute.Int("pigging.records.out", out))
	}
	if kind == "load" {
		attempts := 1
		if err != nil {
			attempts = 3
		}
		for i := 1; i <= attempts; i++ {
			_, a := tr.Start(ctx, "attempt "+strconv.Itoa(i),
				trace.WithAttributes(attribute.Int("pigging.attempt", i)))
			if err != nil {
				a.RecordError(err)
				a.SetStatus(codes.Error, err.Error())
			}
			a.End()
		}
	}
	if err != nil {
		s.RecordError(err)
		s.SetStatus(codes.Error, err.Error())
		return out
	}
	appendLog("INFO", kind+" "+name+" done")
	return out
}

func logTo(s trace.Span, level, msg string) {
	appendLog(level, msg)
	s.AddEvent("log", trace.WithAttributes(
		attribute.String("log.severity", level),
		attribute.String("log.message", msg),
	))
}

func appendLog(level, msg string) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s | %s: %s\n", time.Now().UTC().Format("2006-01-02 15:04:05.000"), level, msg)
}
