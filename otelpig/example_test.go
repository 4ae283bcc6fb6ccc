package otelpig_test

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/otelpig"
)

// namePrinter is a span exporter that prints span names.
type namePrinter struct{}

func (namePrinter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		fmt.Println("exported:", s.Name())
	}
	return nil
}

func (namePrinter) Shutdown(context.Context) error { return nil }

func ExampleSetup() {
	ctx := context.Background()
	// Without WithExporter, OTEL_TRACES_EXPORTER picks the exporter:
	// a summary tree on stderr by default, otlp to send to Jaeger.
	shutdown, err := otelpig.Setup(ctx,
		otelpig.WithServiceName("nightly-etl"),
		otelpig.WithExporter(namePrinter{}),
	)
	if err != nil {
		fmt.Println("setup:", err)
		return
	}

	tracer := otel.Tracer("example")
	ctx, run := tracer.Start(ctx, "RUN nightly-etl", trace.WithSpanKind(trace.SpanKindServer))
	_, stage := tracer.Start(ctx, "extract orders-csv")
	stage.End()
	run.End()

	// Flush before exit; bounded by 5 s as this ctx has no deadline.
	if err := shutdown(context.Background()); err != nil {
		fmt.Println("shutdown:", err)
	}
	// Output:
	// exported: extract orders-csv
	// exported: RUN nightly-etl
}

func ExampleContextFromEnv() {
	// A scheduler or parent process sets TRACEPARENT for the job; set here
	// to show the effect.
	_ = os.Setenv("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	defer os.Unsetenv("TRACEPARENT")

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	ctx := otelpig.ContextFromEnv(context.Background())
	_, run := tp.Tracer("example").Start(ctx, "RUN nightly-etl", trace.WithSpanKind(trace.SpanKindServer))
	run.End()

	span := rec.Ended()[0]
	fmt.Println("trace: ", span.SpanContext().TraceID())
	fmt.Println("parent:", span.Parent().SpanID(), "remote:", span.Parent().IsRemote())
	fmt.Println("same trace as the caller:", span.SpanContext().TraceID() == trace.SpanContextFromContext(ctx).TraceID())
	// Output:
	// trace:  4bf92f3577b34da6a3ce929d0e0e4736
	// parent: 00f067aa0ba902b7 remote: true
	// same trace as the caller: true
}
