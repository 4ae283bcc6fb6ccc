package pigging

// RunState is where a run is or how it ended. It is the one vocabulary of
// a run's state: the lock says it, the run history records it, and the
// run span, the stop log record and the metrics carry it. The values of
// an ended run are those of the semantic conventions' cicd.pipeline.result.
type RunState string

const (
	// StateRunning is a run that has started and not ended (or died
	// without ending).
	StateRunning RunState = "running"
	// StateSuccess is a run that ended without error.
	StateSuccess RunState = "success"
	// StateFailure is a run whose job failed: its function returned an
	// error, LogException was called, a record could not be written, or
	// the command it ran exited with a failure.
	StateFailure RunState = "failure"
	// StateError is a run that pigging itself failed: the lock was lost
	// during the run, or its lock store failed at Start.
	StateError RunState = "error"
	// StateTimeout is a run ended because it ran past its deadline: its
	// ctx's, or the command's --timeout.
	StateTimeout RunState = "timeout"
	// StateCancellation is a run ended by a signal or a cancelled context.
	StateCancellation RunState = "cancellation"
	// StateSkip is a run refused at Start because of the lock: it did not
	// run.
	StateSkip RunState = "skip"
)

// String returns the state's value.
func (s RunState) String() string { return string(s) }

// Ended reports whether s is the state of a run that has ended: any state
// but StateRunning and the empty one.
func (s RunState) Ended() bool { return s != "" && s != StateRunning }
