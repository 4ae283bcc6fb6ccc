package otelpig

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The SDK and the OTLP exporters read the variables below themselves
// (OTEL_BSP_* in sdk/trace, OTEL_BLRP_* in sdk/log,
// OTEL_METRIC_EXPORT_* in sdk/metric, OTEL_EXPORTER_OTLP_*TIMEOUT in the
// exporters), so otelpig does not pass them on again. It checks them, as
// the specification asks of a value it cannot use: warn and ignore. Where
// the SDK would use a bad value rather than ignore it (a negative queue size
// panics, a negative timeout fires at once), otelpig passes the default
// explicitly, which wins over the variable. A timeout of 0 is no bad value:
// the specification's Timeout type reads it as no limit. The batch span
// processor and the OTLP exporters read 0 so themselves; the batch log
// processor and the periodic metric reader would use their default instead,
// so otelpig passes them indefiniteTimeout.

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

// numberVar is a variable that holds an integer: a count, a duration or a
// timeout in milliseconds (the specification's Integer, Duration and
// Timeout types).
type numberVar struct {
	key  string
	unit string // "ms" for a duration or timeout, "" for a count
	// timeout marks the Timeout type, where 0 means no limit. A count or a
	// duration must be positive: a queue or batch of 0 holds nothing, and a
	// delay or interval of 0 would export without pause.
	timeout bool
}

// sdkNumbers are the numeric variables Setup checks.
var sdkNumbers = []numberVar{
	{"OTEL_BSP_SCHEDULE_DELAY", "ms", false}, {"OTEL_BSP_EXPORT_TIMEOUT", "ms", true},
	{"OTEL_BSP_MAX_QUEUE_SIZE", "", false}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "", false},
	{"OTEL_BLRP_SCHEDULE_DELAY", "ms", false}, {"OTEL_BLRP_EXPORT_TIMEOUT", "ms", true},
	{"OTEL_BLRP_MAX_QUEUE_SIZE", "", false}, {"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "", false},
	{"OTEL_METRIC_EXPORT_INTERVAL", "ms", false}, {"OTEL_METRIC_EXPORT_TIMEOUT", "ms", true},
	{"OTEL_EXPORTER_OTLP_TIMEOUT", "ms", true}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "ms", true},
	{"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "ms", true}, {"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "ms", true},
}

// indefiniteTimeout stands for a timeout of 0, no limit, where the SDK
// would take 0 for its default: the largest number of milliseconds a
// 32-bit integer holds (about 24.8 days), the substitute the specification
// suggests. The flush and shutdown bounds still apply.
const indefiniteTimeout = math.MaxInt32 * time.Millisecond

// noLimit reports whether the timeout variable key is set to 0.
func noLimit(key string) bool {
	n, err := strconv.ParseInt(getenv(key), 10, 64)
	return err == nil && n == 0
}

// set reports whether the variable has a value.
func (v numberVar) set() bool { return getenv(v.key) != "" }

// check returns an error naming the variable when it is set to anything
// but a positive integer (0 or more for a timeout).
func (v numberVar) check() error {
	raw := getenv(v.key)
	if raw == "" {
		return nil
	}
	least := int64(1)
	if v.timeout {
		least = 0
	}
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil && n >= least && n <= int64(time.Duration(1<<63-1)/time.Millisecond) {
		return nil
	}
	what := "a positive integer"
	switch {
	case v.timeout:
		what = "a number of milliseconds, 0 for no limit"
	case v.unit == "ms":
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
	// 0 is no limit, which the processor reads so from the variable itself.
	if (numberVar{key: "OTEL_BSP_EXPORT_TIMEOUT", timeout: true}).check() != nil {
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
// A timeout of 0 is no limit, which the exporters read so themselves.
func (s signal) otlpTimeoutBad() bool {
	if v := (numberVar{key: "OTEL_EXPORTER_OTLP_" + s.upper + "_TIMEOUT", timeout: true}); v.set() {
		return v.check() != nil
	}
	return numberVar{key: "OTEL_EXPORTER_OTLP_TIMEOUT", timeout: true}.check() != nil
}

// blrpOptions returns the batch log processor's options for the
// OTEL_BLRP_* variables it would misread: an export timeout of 0, no
// limit, which it would take for its 30 s default.
func blrpOptions() []sdklog.BatchProcessorOption {
	if noLimit("OTEL_BLRP_EXPORT_TIMEOUT") {
		return []sdklog.BatchProcessorOption{sdklog.WithExportTimeout(indefiniteTimeout)}
	}
	return nil
}

// periodicReaderOptions returns the periodic metric reader's options for
// the OTEL_METRIC_EXPORT_* variables it would misread: a timeout of 0, no
// limit, which it would take for its 30 s default.
func periodicReaderOptions() []sdkmetric.PeriodicReaderOption {
	if noLimit("OTEL_METRIC_EXPORT_TIMEOUT") {
		return []sdkmetric.PeriodicReaderOption{sdkmetric.WithTimeout(indefiniteTimeout)}
	}
	return nil
}
