package pigging

import (
	"context"
	"time"
)

// DefaultHistory is the number of runs a job's history keeps unless
// WithHistory says otherwise.
const DefaultHistory = 100

// MaxHistoryError is the most of a run's error text a history entry
// keeps; the run's log has the whole of it.
const MaxHistoryError = 4 << 10

// RunEntry is one run in a job's history: a run that started, or a start
// that was refused (Result StateSkip).
type RunEntry struct {
	// Job is the job's name.
	Job string `json:"job"`
	// Host and PID are where the run's process ran.
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Started is when the run started (or was refused); Ended when it
	// ended.
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// Duration is Ended minus Started, in seconds.
	Duration float64 `json:"duration_s"`
	// Result is how the run ended.
	Result RunState `json:"result"`
	// Error is the run's error, cut at MaxHistoryError bytes; empty on
	// success.
	Error string `json:"error,omitempty"`
	// ExitCode and ExitSource are the program's exit status and who
	// decided it, when the program said so (Tracker.SetExit).
	ExitCode   *int   `json:"exit_code,omitempty"`
	ExitSource string `json:"exit_source,omitempty"`
	// TraceID and SpanID name the run span, when it was recorded.
	TraceID string `json:"trace_id,omitempty"`
	SpanID  string `json:"span_id,omitempty"`
	// Log is the absolute path of the run's log file.
	Log string `json:"log,omitempty"`
	// Stages are the record totals of the run's stages, in the order they
	// first ended.
	Stages []StageTotal `json:"stages,omitempty"`
}

// StageTotal is what one stage of a run counted, summed over its calls.
type StageTotal struct {
	// Kind is extract, transform, load or stage; Name the stage's name.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// In and Out are the records the stage took in and gave out.
	In  int64 `json:"in"`
	Out int64 `json:"out"`
	// Calls is the number of calls, Failed how many of them failed.
	Calls  int `json:"calls"`
	Failed int `json:"failed,omitempty"`
}

// History is a job's run history, kept where its lock is. A Locker that
// implements it (the lock file does; so does package pglock) gets one
// entry for every run a Tracker starts or refuses, and its readers (the
// pigging history and status commands, a job's own health check) read the
// same entries.
//
// Implementations must be safe for concurrent use, by several processes
// where the store is shared.
type History interface {
	// AppendRun adds e to the history, durably, and then keeps no more
	// than the last keep entries of the job (keep > 0). An entry is added
	// whole or not at all.
	AppendRun(ctx context.Context, e *RunEntry, keep int) error
	// Runs returns the job's last n entries, newest first; all it keeps
	// when n <= 0. An empty history is not an error. Entries that cannot
	// be read (a line torn by a crash, garbage) are skipped.
	Runs(ctx context.Context, n int) ([]RunEntry, error)
}
