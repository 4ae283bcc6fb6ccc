package otelpig

import (
	"context"

	"go.opentelemetry.io/contrib/propagators/envcar"
	"go.opentelemetry.io/otel/propagation"
)

// envPropagator reads W3C trace context and baggage, whatever the global
// propagator is.
var envPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{},
)

// ContextFromEnv returns ctx carrying the trace context found in the
// process environment: TRACEPARENT (and TRACESTATE) become the remote parent
// of the next span started from the returned context, and BAGGAGE its
// baggage. A scheduler, CI system or parent process that sets these
// variables thus gets the job's run as a child of its own span.
//
// It works without [Setup] and ignores the global propagator. When
// TRACEPARENT is unset or invalid, ctx is returned without a remote parent
// (spans then start a new trace); it never fails. It is safe for concurrent
// use.
func ContextFromEnv(ctx context.Context) context.Context {
	return envPropagator.Extract(ctx, &envcar.Carrier{})
}

// EnvWarnings returns one error for each OTEL_* variable that [Setup]
// reads and would ignore, because it holds a value Setup does not know
// (OTEL_TRACES_EXPORTER=jaeger, an OTLP protocol of http/json,
// OTEL_BSP_SCHEDULE_DELAY=5s, OTEL_SDK_DISABLED=yes, ...): the
// same warnings Setup writes, each naming the variable and what Setup uses
// instead. It returns nil when every variable is fine. A program calls it
// to record the warnings somewhere of its own, such as the run's log; it
// changes nothing and is safe for concurrent use.
func EnvWarnings() []error {
	_, warnings := readEnv(newConfig())
	return warnings
}
