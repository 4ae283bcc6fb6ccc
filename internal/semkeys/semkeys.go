// Package semkeys holds the attribute keys pigging puts on spans, span
// events, log records and metrics: one place for the names that the
// pigging, middleware and otelpig packages share. docs/telemetry.md lists
// them for users.
package semkeys

import (
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Keys on the run span, its events and the run metrics.
const (
	// Job is the job's name, on the run span, its log records and every
	// metric.
	Job = attribute.Key("pigging.job")
	// LogPath and LockPath are the run's log file and lock, as given.
	LogPath  = attribute.Key("pigging.log.path")
	LockPath = attribute.Key("pigging.lock.path")
	// DurationMS is the run's duration in milliseconds, on the stop event.
	DurationMS = attribute.Key("pigging.duration_ms")
	// Result is how a run ended (a pigging.RunState, whose values are
	// those of the CI/CD conventions), on the run span, its stop event and
	// stop log record, and the cicd.pipeline.run.duration metric.
	Result = semconv.CICDPipelineResultKey
	// Status is Result, under the name the console summary of package
	// otelpig lifts from the stop event.
	Status = Result
	// RunResult is the run's state on the pigging.run.duration metric
	// only (a pigging.RunState), under the label the Prometheus alert
	// rules (deploy/prometheus) select on. Spans and log records say
	// Result.
	RunResult = attribute.Key("pigging.run.result")
	// EventsDropped and ExceptionsDropped count the log and exception
	// events left out past the event budget.
	EventsDropped     = attribute.Key("pigging.events.dropped")
	ExceptionsDropped = attribute.Key("pigging.exceptions.dropped")
	// RecordsAfterStop counts records logged after Stop began.
	RecordsAfterStop = attribute.Key("pigging.records.after_stop")
	// LinkReason and PreviousStatus are on the link to the run that held
	// or left the lock.
	LinkReason     = attribute.Key("pigging.link.reason")
	PreviousStatus = attribute.Key("pigging.previous.status")
	// LogSeverity and LogMessage are on each "log" span event.
	LogSeverity = attribute.Key("pigging.log.severity")
	LogMessage  = attribute.Key("pigging.log.message")
	// LockReason says why a start was refused (held or stale), on the
	// refusals metric.
	LockReason = attribute.Key("pigging.lock.reason")
)

// Keys on stage and attempt spans and the stage metrics.
const (
	StageKind   = attribute.Key("pigging.stage.kind")
	StageName   = attribute.Key("pigging.stage.name")
	StageResult = attribute.Key("pigging.stage.result")
	// TaskResult is how a stage call ended (success or failure), on its
	// span, as the CI/CD conventions say a pipeline task run's result.
	TaskResult = semconv.CICDPipelineTaskRunResultKey
	// RecordsIn and RecordsOut count the records a stage call took in and
	// gave out; RecordsDirection ("in" or "out") labels the records metric.
	RecordsIn        = attribute.Key("pigging.records.in")
	RecordsOut       = attribute.Key("pigging.records.out")
	RecordsDirection = attribute.Key("pigging.records.direction")
	// Attempt numbers an attempt span; Attempts is the tries a stage call
	// made.
	Attempt  = attribute.Key("pigging.attempt")
	Attempts = attribute.Key("pigging.attempts")
	// TimeoutMS is an attempt's time limit; TimedOut says it ran past it.
	TimeoutMS = attribute.Key("pigging.timeout_ms")
	TimedOut  = attribute.Key("pigging.timed_out")
)
