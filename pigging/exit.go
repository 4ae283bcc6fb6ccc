package pigging

// Who decided a program's exit status, for SetExit.
const (
	// ExitSourceCommand means the status is the one of the command the
	// job ran (its exit code, or 128+N for a death by signal N), passed
	// on unchanged.
	ExitSourceCommand = "command"
	// ExitSourcePigging means pigging decided the status itself: a
	// refusal, a timeout, a failure of its own, a command that could not
	// be started.
	ExitSourcePigging = "pigging"
)

// SetExit records the exit status the program running the job will end
// with, and who decided it (ExitSourceCommand or ExitSourcePigging), for a
// program such as pigging run whose own status may be the job's command's
// or its own. A lock file kept after the run (failed or cancelled) carries
// them as exit_code and exit_source. Call it before LogException and Stop;
// it does nothing outside a run.
func (t *Tracker) SetExit(code int, source string) {
	r := t.currentRun()
	if r == nil {
		return
	}
	r.failMu.Lock()
	r.info.ExitCode, r.info.ExitSource = &code, source
	r.failMu.Unlock()
}
