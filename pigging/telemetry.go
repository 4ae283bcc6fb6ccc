package pigging

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/cicdconv"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/runctx"
	"github.com/pigging-go/pigging/internal/semkeys"
)

// Metrics a Tracker records, named and measured as the semantic
// conventions' rules ask (seconds, dotted lower-case names).
const (
	// MetricRunDuration is a histogram of run durations in seconds, by
	// pigging.job, pigging.run.result and error.type.
	MetricRunDuration = "pigging.run.duration"
	// MetricRunLastSuccess is a timestamp gauge: when the job's last
	// successful run ended, in seconds since the Unix epoch, by pigging.job.
	// Alert when it is older than the job's period. The name ends in
	// _time as Prometheus's process_start_time_seconds does, so a
	// Prometheus exporter shows it as pigging_run_last_success_time_seconds.
	MetricRunLastSuccess = "pigging.run.last_success_time"
	// MetricRunStartTime is a timestamp gauge: when the process's latest
	// run started, in seconds since the Unix epoch, by pigging.job. With
	// MetricRunActive it tells how long a live run has been going.
	MetricRunStartTime = "pigging.run.start_time"
	// MetricRunActive is an up-down counter of the runs going on, by
	// pigging.job: 1 from Start to Stop, exported with the other metrics
	// every OTEL_METRIC_EXPORT_INTERVAL while the run lasts, 0 after, so a
	// run that hangs stays visible.
	MetricRunActive = "pigging.run.active"
	// MetricLockRefusals counts refused starts, by pigging.job and
	// pigging.lock.reason (held or stale). A refused start is not a run: it
	// is counted here only, not in MetricRunDuration.
	MetricLockRefusals = "pigging.lock.refusals"
	// MetricStageDuration is a histogram of stage call durations in
	// seconds, by pigging.job, pigging.stage.kind, pigging.stage.name,
	// pigging.stage.result (success or failure) and error.type.
	MetricStageDuration = "pigging.stage.duration"
	// MetricStageRecords counts the records stages took in and gave out, by
	// pigging.job, pigging.stage.kind, pigging.stage.name and
	// pigging.records.direction (in or out).
	MetricStageRecords = "pigging.stage.records"
	// MetricStageAttempts counts the tries stage calls made (retries
	// included: tries minus calls is the retries), by pigging.job,
	// pigging.stage.kind and pigging.stage.name.
	MetricStageAttempts = "pigging.stage.attempts"
)

// durationBuckets are the bucket boundaries, in seconds, of the duration
// histograms: from 5 ms to 4 hours, for stages and jobs alike.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400}

// Event names of pigging's own log records.
const (
	eventRunStart  = "pigging.run.start"
	eventRunStop   = "pigging.run.stop"
	eventException = "exception"
)

// telemetry is what a Tracker sends besides its log file and spans: log
// records through the Logs API and run metrics through the Metrics API,
// made once in New.
type telemetry struct {
	lp          otellog.LoggerProvider
	mp          metric.MeterProvider
	logger      otellog.Logger
	runDuration metric.Float64Histogram
	lastSuccess metric.Float64Gauge
	startTime   metric.Float64Gauge
	active      metric.Int64UpDownCounter
	refusals    metric.Int64Counter
	stageDur    metric.Float64Histogram
	stageRecs   metric.Int64Counter
	stageTries  metric.Int64Counter
	// The CI/CD conventions' run metrics, beside pigging's own, which the
	// alert rules in deploy/prometheus read.
	cicdDuration cicdconv.PipelineRunDuration
	cicdActive   cicdconv.PipelineRunActive
	cicdErrors   cicdconv.PipelineRunErrors
	stages       sync.Map // *runctx.Stage -> *stageOpts
	exceptions   errtype.Signals
	// spanEvents says that records are also span events (WithSpanEvents).
	spanEvents bool
}

func newTelemetry(c *config) *telemetry {
	tel := &telemetry{lp: c.loggerProvider, mp: c.meterProvider, exceptions: errtype.SignalsFromEnv(), spanEvents: c.spanEvents}
	if !c.spanEvents {
		// Without span events an exception is a log record only, whatever
		// the opt-in says: it must go somewhere.
		tel.exceptions = errtype.Signals{Logs: true}
	}
	tel.logger = tel.lp.Logger(ScopeName, otellog.WithInstrumentationVersion(Version()), otellog.WithSchemaURL(semconv.SchemaURL))
	meter := tel.mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version()), metric.WithSchemaURL(semconv.SchemaURL))
	var err error
	if tel.runDuration, err = meter.Float64Histogram(MetricRunDuration, metric.WithUnit("s"),
		metric.WithDescription("How long runs of the job took, by result."), metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", MetricRunDuration, err))
	}
	if tel.lastSuccess, err = meter.Float64Gauge(MetricRunLastSuccess, metric.WithUnit("s"),
		metric.WithDescription("When the job last ran successfully, in seconds since the Unix epoch.")); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", MetricRunLastSuccess, err))
	}
	if tel.startTime, err = meter.Float64Gauge(MetricRunStartTime, metric.WithUnit("s"),
		metric.WithDescription("When the latest run of the job started, in seconds since the Unix epoch.")); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", MetricRunStartTime, err))
	}
	if tel.active, err = meter.Int64UpDownCounter(MetricRunActive, metric.WithUnit("{run}"),
		metric.WithDescription("Runs of the job going on.")); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", MetricRunActive, err))
	}
	if tel.refusals, err = meter.Int64Counter(MetricLockRefusals, metric.WithUnit("{run}"),
		metric.WithDescription("Runs refused because the lock was held or stale.")); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", MetricLockRefusals, err))
	}
	if tel.stageDur, err = meter.Float64Histogram(MetricStageDuration, metric.WithUnit("s"),
		metric.WithDescription("How long stage calls took, by result."), metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", MetricStageDuration, err))
	}
	if tel.stageRecs, err = meter.Int64Counter(MetricStageRecords, metric.WithUnit("{record}"),
		metric.WithDescription("Records stages took in and gave out.")); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", MetricStageRecords, err))
	}
	if tel.stageTries, err = meter.Int64Counter(MetricStageAttempts, metric.WithUnit("{attempt}"),
		metric.WithDescription("Tries made by stage calls, retries included.")); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", MetricStageAttempts, err))
	}
	if tel.cicdDuration, err = cicdconv.NewPipelineRunDuration(meter, metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", tel.cicdDuration.Name(), err))
	}
	if tel.cicdActive, err = cicdconv.NewPipelineRunActive(meter); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", tel.cicdActive.Name(), err))
	}
	if tel.cicdErrors, err = cicdconv.NewPipelineRunErrors(meter); err != nil {
		otel.Handle(fmt.Errorf("pigging: %s: %w", tel.cicdErrors.Name(), err))
	}
	return tel
}

// stageOpts are the measurement options of one stage's metrics, made once
// per stage and job: making an attribute set sorts and allocates, which
// would cost more than the stage's own span.
type stageOpts struct {
	base           []attribute.KeyValue
	ok             []metric.RecordOption
	in, out, tries []metric.AddOption
}

func newStageOpts(job string, st *runctx.Stage) *stageOpts {
	base := []attribute.KeyValue{semkeys.Job.String(job), semkeys.StageKind.String(st.Kind), semkeys.StageName.String(st.Name)}
	set := func(extra attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append(slices.Clip(base), extra)...))
	}
	return &stageOpts{
		base:  base,
		ok:    []metric.RecordOption{set(semkeys.StageResult.String(string(StateSuccess)))},
		in:    []metric.AddOption{set(semkeys.RecordsDirection.String("in"))},
		out:   []metric.AddOption{set(semkeys.RecordsDirection.String("out"))},
		tries: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(base...))},
	}
}

// stageEnded records the metrics of a stage call of the run of job that
// lasted d.
func (tel *telemetry) stageEnded(ctx context.Context, job string, e *runctx.StageEnd, d time.Duration) {
	if e.Stage == nil {
		return
	}
	o, ok := tel.stages.Load(e.Stage)
	if !ok {
		o, _ = tel.stages.LoadOrStore(e.Stage, newStageOpts(job, e.Stage))
	}
	opts := o.(*stageOpts)
	if tel.stageDur != nil {
		if e.Err == nil {
			tel.stageDur.Record(ctx, d.Seconds(), opts.ok...)
		} else {
			attrs := append(slices.Clip(opts.base), semkeys.StageResult.String(string(StateFailure)), errtype.KeyErrorType.String(errtype.Of(e.Err)))
			tel.stageDur.Record(ctx, d.Seconds(), metric.WithAttributes(attrs...))
		}
	}
	if tel.stageRecs != nil {
		if e.HasIn {
			tel.stageRecs.Add(ctx, e.In, opts.in...)
		}
		if e.HasOut {
			tel.stageRecs.Add(ctx, e.Out, opts.out...)
		}
	}
	if tel.stageTries != nil && e.Attempts > 0 {
		tel.stageTries.Add(ctx, int64(e.Attempts), opts.tries...)
	}
}

// logEnabled reports whether a log record at level would be emitted: with
// no LoggerProvider set, this is all a record pays.
func (tel *telemetry) logEnabled(ctx context.Context, level slog.Level) bool {
	return tel.logger.Enabled(ctx, otellog.EnabledParameters{Severity: levelOf(level).severity})
}

// emitLog emits rec as a log record in ctx (which carries the span it
// belongs to). kvs are the record's attributes as its span event has them,
// after the two that every event starts with.
func (tel *telemetry) emitLog(ctx context.Context, rec *record, kvs []attribute.KeyValue, job string) {
	var lr otellog.Record
	lr.SetTimestamp(rec.time)
	lr.SetSeverity(levelOf(rec.level).severity)
	lr.SetSeverityText(levelOf(rec.level).name)
	lr.SetBody(attribute.StringValue(rec.msg))
	if rec.eventName != "" {
		lr.SetEventName(rec.eventName)
	}
	lr.AddAttributes(kvs...)
	lr.AddAttributes(rec.otelAttrs...)
	lr.AddAttributes(semkeys.Job.String(job))
	if rec.ctx != nil {
		if st := runctx.StageFrom(rec.ctx); st != nil {
			lr.AddAttributes(semkeys.StageName.String(st.Name))
		}
	}
	// A panic's stack is not added here: it goes with the exception (a
	// span event or an exception log record), and exception.stacktrace
	// alone would make this record an exception without a type or message.
	tel.logger.Emit(ctx, lr)
}

// emitException emits err as an "exception" log record in ctx (the span
// it happened in), at time tm.
func (tel *telemetry) emitException(ctx context.Context, tm time.Time, err error, stack []byte, job string) {
	lr := errtype.Record(err, stack)
	lr.SetTimestamp(tm)
	lr.AddAttributes(semkeys.Job.String(job))
	if st := runctx.StageFrom(ctx); st != nil {
		lr.AddAttributes(semkeys.StageName.String(st.Name))
	}
	tel.logger.Emit(ctx, lr)
}

// runStarted records the start of a run of job at start: one more active
// run, and its start time.
func (tel *telemetry) runStarted(ctx context.Context, job string, start time.Time) {
	opt := metric.WithAttributeSet(attribute.NewSet(semkeys.Job.String(job)))
	if tel.startTime != nil {
		tel.startTime.Record(ctx, unixSeconds(start), opt)
	}
	if tel.active != nil {
		tel.active.Add(ctx, 1, opt)
	}
	tel.cicdActive.Add(ctx, 1, job, cicdconv.PipelineRunStateExecuting)
}

// unixSeconds is t in seconds since the Unix epoch.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// runEnded records the run metrics of a run (begun with runStarted) that
// ended in state after d, failing with err (nil unless it failed or was
// cancelled).
func (tel *telemetry) runEnded(ctx context.Context, job string, state RunState, d time.Duration, end time.Time, err error) {
	if tel.active != nil {
		tel.active.Add(ctx, -1, metric.WithAttributeSet(attribute.NewSet(semkeys.Job.String(job))))
	}
	tel.cicdActive.Add(ctx, -1, job, cicdconv.PipelineRunStateExecuting)
	attrs := []attribute.KeyValue{semkeys.Job.String(job), semkeys.RunResult.String(string(state))}
	if err != nil {
		attrs = append(attrs, errtype.KeyErrorType.String(errtype.Of(err)))
	}
	if tel.runDuration != nil {
		tel.runDuration.Record(ctx, d.Seconds(), metric.WithAttributes(attrs...))
	}
	tel.cicdRunEnded(ctx, job, state, d, err)
	if state == StateSuccess && tel.lastSuccess != nil {
		tel.lastSuccess.Record(ctx, unixSeconds(end), metric.WithAttributes(semkeys.Job.String(job)))
	}
}

// cicdRunEnded records a run of job that ended in state after d, failing
// with err, in the CI/CD conventions' metrics: its duration by result, and
// when the run failed (failure, error or timeout: a cancellation or a skip
// is not an error the run met) its error.type, which the conventions want
// "if and only if the pipeline run failed", and one error. A run's time is
// in the executing state; a refused run (skip) never began to execute, so
// its time is in the pending state.
func (tel *telemetry) cicdRunEnded(ctx context.Context, job string, state RunState, d time.Duration, err error) {
	attrs := []attribute.KeyValue{tel.cicdDuration.AttrPipelineResult(cicdconv.PipelineResultAttr(state))}
	failed := state == StateFailure || state == StateError || state == StateTimeout
	if failed {
		attrs = append(attrs, tel.cicdDuration.AttrErrorType(cicdconv.ErrorTypeAttr(errtype.Of(err))))
	}
	runState := cicdconv.PipelineRunStateExecuting
	if state == StateSkip {
		runState = cicdconv.PipelineRunStatePending
	}
	tel.cicdDuration.Record(ctx, d.Seconds(), job, runState, attrs...)
	if failed {
		tel.cicdErrors.Add(ctx, 1, job, cicdconv.ErrorTypeAttr(errtype.Of(err)))
	}
}

// refused records a refused start that took d, failing with err: reason
// is "held" or "stale". It is not counted in MetricRunDuration (its few
// milliseconds would drag the quantiles of the runs down), only in
// cicd.pipeline.run.duration, whose cicd.pipeline.result=skip sets it
// apart.
func (tel *telemetry) refused(ctx context.Context, job, reason string, d time.Duration, err error) {
	if tel.refusals != nil {
		tel.refusals.Add(ctx, 1, metric.WithAttributes(semkeys.Job.String(job), semkeys.LockReason.String(reason)))
	}
	tel.cicdRunEnded(ctx, job, StateSkip, d, err)
}

// flush asks the tracer, meter and logger providers to export what they
// hold, when they can, side by side, waiting at most flushTimeout for the
// three together: a collector slow for one signal does not eat the others'
// time. A provider that bounds its own flush (otelpig's share one bound
// with their shutdown) may end sooner; its error, which names where the
// telemetry was going, goes to the error handler.
func (t *Tracker) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range []struct {
		what string
		p    any
	}{{"spans", t.cfg.provider}, {"metrics", t.tel.mp}, {"log records", t.tel.lp}} {
		f, ok := p.p.(interface{ ForceFlush(context.Context) error })
		if !ok {
			continue
		}
		wg.Go(func() {
			if err := f.ForceFlush(ctx); err != nil {
				otel.Handle(fmt.Errorf("pigging: flushing %s: %w", p.what, err))
			}
		})
	}
	wg.Wait()
}
