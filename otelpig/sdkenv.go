package otelpig

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The SDK and the OTLP exporters read the variables below themselves
// (OTEL_BSP_* in sdk/trace, OTEL_BLRP_* in sdk/log,
// OTEL_METRIC_EXPORT_* in sdk/metric, OTEL_EXPORTER_OTLP_*TIMEOUT in the
// exporters), so otelpig does not pass them on again. It checks them, as
// the specification asks of a value it cannot use: warn and ignore. Where
// the SDK would use a bad value rather than ignore it (a negative queue size
// panics, a zero delay or timeout fires at once), otelpig passes the
// default explicitly, which wins over the variable.

// sdkDisabledVar turns the SDK off for every signal.
const sdkDisabledVar = "OTEL_SDK_DISABLED"

// sdkDisabled reads sdkDisabledVar: true for "true" in any case; false
// when unset, empty or "false". Any other value is false, with an error
// naming the variable.
func sdkDisabled() (bool, error) {
	raw := getenv(sdkDisabledVar)
	switch strings.ToLower(raw) {
	case "true":
		return true, nil
	case "", "false":
		return false, nil
	}
	return false, fmt.Errorf("otelpig: %s=%s: use true or false", sdkDisabledVar, raw)
}

// numberVar is a variable that holds a positive integer: a count, or a
// duration in milliseconds.
type numberVar struct {
	key  string
	unit string // "ms" for a duration, "" for a count
}

// sdkNumbers are the numeric variables Setup checks.
var sdkNumbers = []numberVar{
	{"OTEL_BSP_SCHEDULE_DELAY", "ms"}, {"OTEL_BSP_EXPORT_TIMEOUT", "ms"},
	{"OTEL_BSP_MAX_QUEUE_SIZE", ""}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", ""},
	{"OTEL_BLRP_SCHEDULE_DELAY", "ms"}, {"OTEL_BLRP_EXPORT_TIMEOUT", "ms"},
	{"OTEL_BLRP_MAX_QUEUE_SIZE", ""}, {"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", ""},
	{"OTEL_METRIC_EXPORT_INTERVAL", "ms"}, {"OTEL_METRIC_EXPORT_TIMEOUT", "ms"},
	{"OTEL_EXPORTER_OTLP_TIMEOUT", "ms"}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "ms"},
	{"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "ms"}, {"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "ms"},
}

// set reports whether the variable has a value.
func (v numberVar) set() bool { return getenv(v.key) != "" }

// check returns an error naming the variable when it is set to anything
// but a positive integer.
func (v numberVar) check() error {
	raw := getenv(v.key)
	if raw == "" {
		return nil
	}
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil && n > 0 && n <= int64(time.Duration(1<<63-1)/time.Millisecond) {
		return nil
	}
	what := "a positive integer"
	if v.unit == "ms" {
		what = "a positive number of milliseconds"
	}
	return fmt.Errorf("otelpig: %s=%s: use %s", v.key, raw, what)
}

// bspOptions returns the batch span processor's defaults for the OTEL_BSP_*
// variables that hold a bad value, which the SDK would otherwise use.
func bspOptions() []sdktrace.BatchSpanProcessorOption {
	var opts []sdktrace.BatchSpanProcessorOption
	bad := func(key string) bool { return numberVar{key: key}.check() != nil }
	if bad("OTEL_BSP_SCHEDULE_DELAY") {
		opts = append(opts, sdktrace.WithBatchTimeout(sdktrace.DefaultScheduleDelay*time.Millisecond))
	}
	if bad("OTEL_BSP_EXPORT_TIMEOUT") {
		opts = append(opts, sdktrace.WithExportTimeout(sdktrace.DefaultExportTimeout*time.Millisecond))
	}
	if bad("OTEL_BSP_MAX_QUEUE_SIZE") || bad("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
		opts = append(opts, sdktrace.WithMaxQueueSize(sdktrace.DefaultMaxQueueSize),
			sdktrace.WithMaxExportBatchSize(sdktrace.DefaultMaxExportBatchSize))
	}
	return opts
}

// defaultOTLPTimeout is the OTLP exporters' timeout when no variable sets
// one.
const defaultOTLPTimeout = 10 * time.Second

// otlpTimeoutBad reports whether the OTLP timeout the signal's exporter
// would read from the environment is a bad value: the per-signal variable
// when set, else the general one.
func (s signal) otlpTimeoutBad() bool {
	if v := (numberVar{key: "OTEL_EXPORTER_OTLP_" + s.upper + "_TIMEOUT"}); v.set() {
		return v.check() != nil
	}
	return numberVar{key: "OTEL_EXPORTER_OTLP_TIMEOUT"}.check() != nil
}
