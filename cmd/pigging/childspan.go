package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/pigging"
)

// traceArgsEnv turns --trace-args on when it is "true" or "1".
const traceArgsEnv = "PIGGING_TRACE_ARGS"

// traceArgsDefault reads traceArgsEnv: true for "true" or "1", in any case.
func traceArgsDefault() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(traceArgsEnv))) {
	case "true", "1":
		return true
	}
	return false
}

// commandSpan is the span of CMD's process, as the semantic conventions'
// CLI client span describes it: kind CLIENT, named after
// process.executable.name, a child of the run span, with the process's pid,
// its exit code and, on failure, error.type. The run span keeps pigging's
// own attributes only.
type commandSpan struct {
	span trace.Span
}

// startCommandSpan starts the span of the process argv is about to run, as
// a child of the run span in ctx, and returns the context that carries it:
// the command's TRACEPARENT names this span. The arguments (argv[1:]) are
// recorded as process.command_args only when withArgs is set: they may hold
// secrets.
func startCommandSpan(ctx context.Context, argv []string, withArgs bool) (context.Context, commandSpan) {
	exe := filepath.Base(argv[0])
	attrs := []attribute.KeyValue{semconv.ProcessExecutableName(exe)}
	if withArgs {
		attrs = append(attrs, semconv.ProcessCommandArgs(argv...))
	}
	tracer := trace.SpanFromContext(ctx).TracerProvider().Tracer(pigging.ScopeName,
		trace.WithInstrumentationVersion(pigging.Version()), trace.WithSchemaURL(semconv.SchemaURL))
	ctx, span := tracer.Start(ctx, exe, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, commandSpan{span: span}
}

// started records the pid of the process once it runs.
func (c commandSpan) started(pid int) {
	c.span.SetAttributes(semconv.ProcessPID(pid))
}

// failed ends the span of a command that could not be started, or that
// pigging lost track of.
func (c commandSpan) failed(err error) {
	c.span.SetAttributes(semconv.ErrorType(err))
	if err != nil {
		c.span.SetStatus(codes.Error, err.Error())
	} else {
		c.span.SetStatus(codes.Error, "")
	}
	c.span.End()
}

// exited ends the span of a process that exited with code, or was killed
// by the signal named sig (then code is 128 + its number). ended says how
// ("exit status 3", "killed by SIGTERM"), the status description of a
// failure. error.type is the exit code as a string for a non-zero exit, or
// the signal's name, as the conventions ask.
func (c commandSpan) exited(code int, sig, ended string) {
	c.span.SetAttributes(semconv.ProcessExitCode(code))
	switch {
	case sig != "":
		c.span.SetAttributes(semconv.ErrorTypeKey.String(sig))
		c.span.SetStatus(codes.Error, ended)
	case code != 0:
		c.span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(code)))
		c.span.SetStatus(codes.Error, ended)
	}
	c.span.End()
}
