package pigging

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"go.opentelemetry.io/otel"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// StalePolicy says what Start does with a lock file left by a run that
// failed, was cancelled or died.
type StalePolicy int

const (
	// Refuse makes Start return ErrStaleLock until a person has read the log
	// and cleared the lock ("pigging unlock", or Unlock). It is the default.
	Refuse StalePolicy = iota
	// TakeOver makes Start log a WARN naming the previous run, keep its log
	// as "<log path>.prev", and go on.
	TakeOver
)

// String returns "refuse" or "take-over".
func (p StalePolicy) String() string {
	switch p {
	case Refuse:
		return "refuse"
	case TakeOver:
		return "take-over"
	}
	return fmt.Sprintf("StalePolicy(%d)", int(p))
}

// DefaultEventBudget is the number of log events a run adds to its spans
// unless WithEventBudget says otherwise.
const DefaultEventBudget = 100

// An Option configures a Tracker. Options are made by the With* functions.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	name        string
	provider    trace.TracerProvider
	stale       StalePolicy
	output      io.Writer
	minLevel    slog.Leveler
	eventBudget int
	fileMode    fs.FileMode
	locker      Locker
	history     int
	spanEvents  bool

	loggerProvider otellog.LoggerProvider
	meterProvider  metric.MeterProvider
}

func newConfig(opts []Option) (config, error) {
	c := config{
		name:        defaultJobName(),
		stale:       Refuse,
		output:      os.Stdout,
		minLevel:    slog.LevelInfo,
		eventBudget: DefaultEventBudget,
		fileMode:    0o644,
		history:     DefaultHistory,
		spanEvents:  true,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	var errs []error
	if strings.TrimSpace(c.name) == "" {
		errs = append(errs, errors.New("pigging: WithName: job name is empty"))
	}
	if c.stale != Refuse && c.stale != TakeOver {
		errs = append(errs, fmt.Errorf("pigging: WithStaleLock: unknown policy %v", c.stale))
	}
	if c.eventBudget < 0 {
		errs = append(errs, fmt.Errorf("pigging: WithEventBudget: negative budget %d", c.eventBudget))
	}
	if c.history < 0 {
		errs = append(errs, fmt.Errorf("pigging: WithHistory: negative number of runs %d (0 keeps no history)", c.history))
	}
	if c.fileMode&^fs.ModePerm != 0 {
		errs = append(errs, fmt.Errorf("pigging: WithFileMode: %v is not a permission mode", c.fileMode))
	} else if c.fileMode&0o200 == 0 {
		errs = append(errs, fmt.Errorf("pigging: WithFileMode: %v gives the owner no write permission; the next run could not write its files (use 0644, 0640 or 0600)", c.fileMode))
	}
	if c.provider == nil {
		c.provider = otel.GetTracerProvider()
	}
	if c.loggerProvider == nil {
		c.loggerProvider = otel.GetLoggerProvider()
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	if c.output == nil {
		c.output = io.Discard
	}
	if c.minLevel == nil {
		c.minLevel = slog.LevelInfo
	}
	return c, errors.Join(errs...)
}

func defaultJobName() string {
	name := filepath.Base(os.Args[0])
	if ext := filepath.Ext(name); ext != "" && ext != name {
		name = strings.TrimSuffix(name, ext)
	}
	if name == "" || name == "." || name == string(filepath.Separator) {
		return "pigging"
	}
	return name
}

// WithName sets the job's name: the pipeline in the run span's name
// ("RUN etl"), the "job" in the log header and in the lock file. The default is the program's base name
// without its extension ("etl", not "etl.exe").
func WithName(job string) Option {
	return optionFunc(func(c *config) { c.name = job })
}

// WithTracerProvider sets the provider the run span comes from. The default
// is the global provider (otel.GetTracerProvider) at the time New is called.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.provider = tp })
}

// WithStaleLock sets what Start does with a lock file left by a run that
// failed, was cancelled or died. The default is Refuse.
func WithStaleLock(p StalePolicy) Option {
	return optionFunc(func(c *config) { c.stale = p })
}

// WithOutput sets where Stop prints "TOTAL SCRIPT TIME: ...". The default is
// os.Stdout; nil discards it.
func WithOutput(w io.Writer) Option {
	return optionFunc(func(c *config) { c.output = w })
}

// WithMinLevel sets the lowest level written to the log and the spans. The
// default is slog.LevelInfo. pigging's own records are always written.
func WithMinLevel(l slog.Leveler) Option {
	return optionFunc(func(c *config) { c.minLevel = l })
}

// WithEventBudget sets how many log events a run adds to its spans (the
// run span and the stage spans together); past it, log records still go to
// the file but are only counted on the run span (pigging.events.dropped).
// The default is DefaultEventBudget (100); 0 adds no log events.
//
// Whatever the budget, the run span itself takes at most 110 log events, so
// that it stays under the SDK's default limit of 128 events with room for
// start, stop and at least 16 exception events (exceptions past that room
// are counted in pigging.exceptions.dropped; the log file has them all).
func WithEventBudget(n int) Option {
	return optionFunc(func(c *config) { c.eventBudget = n })
}

// WithFileMode sets the permission bits of the log and lock files when Start
// creates them (before the umask). The default is 0644. A mode that does
// not let the owner write (0444, say) is refused by New.
func WithFileMode(perm fs.FileMode) Option {
	return optionFunc(func(c *config) { c.fileMode = perm })
}

// WithLocker sets where the lock and the failed-run state live. The default
// is the lock file at the lock path given to New (NewFileLocker); with a
// Locker, the lock path may be "". Package pglock gives one in PostgreSQL,
// for a job scheduled on several hosts.
func WithLocker(l Locker) Option {
	return optionFunc(func(c *config) { c.locker = l })
}

// WithLoggerProvider sets the provider of the log records a run emits: each
// record of the log file is also an OpenTelemetry log record, correlated
// with the span it belongs to. The default is the global provider
// (otel.GetLoggerProvider) at the time New is called; while none is set,
// a record pays one Enabled check.
func WithLoggerProvider(lp otellog.LoggerProvider) Option {
	return optionFunc(func(c *config) { c.loggerProvider = lp })
}

// WithMeterProvider sets the provider of the run metrics (MetricRunDuration,
// MetricRunLastSuccess, MetricRunStartTime, MetricRunActive,
// MetricLockRefusals, the stage metrics, and the CI/CD conventions'
// cicd.pipeline.run.duration, cicd.pipeline.run.active and
// cicd.pipeline.run.errors). The default is the global
// provider (otel.GetMeterProvider) at the time New is called.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithHistory sets how many runs the job's history keeps (the last n), when
// its Locker keeps one (History): the lock file keeps it beside itself, as
// "<lock path>.history", package pglock in a table. 0 turns the history
// off: no entry is written. The default is DefaultHistory (100). A
// negative n is refused by New.
func WithHistory(n int) Option {
	return optionFunc(func(c *config) { c.history = n })
}

// WithSpanEvents says whether a run's events are also span events. Every
// event is first a log record (sent to the LoggerProvider: see
// WithLoggerProvider); its span event ("log", "start", "stop",
// "exception") is a view of it on the span it belongs to, which is how
// Jaeger and most trace views show a run. With false no span event is
// added, by the run or by its middleware stages, and exceptions go to log
// records only, whatever OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN says. The
// default is true.
func WithSpanEvents(on bool) Option {
	return optionFunc(func(c *config) { c.spanEvents = on })
}
