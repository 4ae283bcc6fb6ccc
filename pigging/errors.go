package pigging

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pigging-go/pigging/internal/shell"
)

// Errors returned by the Tracker. Compare with errors.Is.
var (
	// ErrLocked means another run holds the lock file, or a previous run
	// left it behind. The error is a *LockError that names the holder.
	ErrLocked = errors.New("pigging: locked")

	// ErrStaleLock means the lock file was left by a run that failed, was
	// cancelled or died. errors.Is(err, ErrLocked) is true for it too.
	ErrStaleLock = fmt.Errorf("%w by a previous run that did not finish", ErrLocked)

	// ErrInvalidLevel is returned by Log for a level other than DEBUG, INFO,
	// WARN or ERROR.
	ErrInvalidLevel = errors.New("pigging: invalid level")

	// ErrNotStarted is returned when the Tracker is used before Start.
	ErrNotStarted = errors.New("pigging: tracker not started")

	// ErrAlreadyStarted is returned by a second Start.
	ErrAlreadyStarted = errors.New("pigging: tracker already started")

	// ErrStopped is returned when the Tracker is used after Stop.
	ErrStopped = errors.New("pigging: tracker stopped")

	// ErrLockLost means the run lost its lock while it went on: the lock
	// file was removed or replaced (by hand, or by an editor saving a
	// copy), or the database session that held it ended. Stop returns an
	// error wrapping it, the run ends failed, and the failed run's details
	// are put back where that is safe.
	ErrLockLost = errors.New("pigging: the lock was lost during the run")
)

// LogWriteError is returned by Stop (and so by Run) when records could not
// be written to the log file, for instance on a full disk: the run is
// failed, the records went to stderr, and the lock file keeps this error.
type LogWriteError struct {
	// Path is the log file.
	Path string
	// Lost is how many records could not be written.
	Lost int64
	// Err is the first write error.
	Err error
}

// Error says how many records were lost, where, and why.
func (e *LogWriteError) Error() string {
	return "pigging: " + strconv.FormatInt(e.Lost, 10) + " records could not be written to " + e.Path +
		" (they went to stderr): " + errMessage(e.Err)
}

// Unwrap returns the first write error.
func (e *LogWriteError) Unwrap() error { return e.Err }

func errMessage(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// LockInfo is what a lock file says about the run that holds or held it.
type LockInfo struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Job     string    `json:"job"`
	Started time.Time `json:"started"`
	TraceID string    `json:"trace_id,omitempty"`
	SpanID  string    `json:"span_id,omitempty"`
	// Status is the run's state: StateRunning while it runs (or after
	// it died), else how it ended.
	Status RunState `json:"status"`
	Error  string   `json:"error,omitempty"`
	// Log is the absolute path of the run's log file.
	Log string `json:"log,omitempty"`
	// ExitCode and ExitSource are the exit status the program running the
	// job ends with and who decided it, when it said so (SetExit).
	ExitCode   *int   `json:"exit_code,omitempty"`
	ExitSource string `json:"exit_source,omitempty"`
}

// LockError is returned by Start when the run may not go on because of the
// lock. It unwraps to ErrLocked (held by a live process) or ErrStaleLock
// (left by a run that failed, was cancelled or died).
type LockError struct {
	// Path names the lock: the lock file, or what its Locker's String
	// says (a table, a job, a server; never a password).
	Path string
	// LogPath is the log file the refused run appended its ERROR line to.
	// The message tells to read the log the lock names (Holder.Log, the
	// log of the run that left it, and its host when the lock is not a
	// lock file), and LogPath only when it names none.
	LogPath string
	// Holder is what the lock says of the run that holds or left it; nil
	// when the lock is empty or unreadable.
	Holder *LockInfo
	// Err is ErrLocked or ErrStaleLock.
	Err error
	// Detail says why the lock could not be read, when Holder is nil.
	Detail string

	// fileLock is set for a lock file, which "pigging unlock" and Unlock
	// clear.
	fileLock bool
	// advice is how to clear another Locker's lock (its ClearAdvice).
	advice string
}

// readLog returns the log a person should read after a stale lock: the
// one the lock names (the run that left it wrote there), else LogPath.
func (e *LockError) readLog() string {
	if e.Holder != nil && e.Holder.Log != "" {
		return e.Holder.Log
	}
	return e.LogPath
}

// Error says who holds the lock, since when, and what to do.
func (e *LockError) Error() string {
	var b strings.Builder
	b.WriteString("pigging: ")
	if e.Err == ErrStaleLock {
		if e.Holder == nil {
			b.WriteString("stale lock ")
			b.WriteString(e.Path)
			b.WriteString(": the file does not say which run left it")
			if e.Detail != "" {
				b.WriteString(" (")
				b.WriteString(e.Detail)
				b.WriteString(")")
			}
		} else {
			b.WriteString("previous run ")
			b.WriteString(e.Holder.describe())
			b.WriteString(e.Holder.outcome())
		}
		b.WriteString("; read ")
		b.WriteString(e.readLog())
		switch {
		case e.fileLock:
			b.WriteString(", then clear the lock to run again: pigging unlock --lock ")
			b.WriteString(shell.Word(e.Path))
			b.WriteString(" (pigging.Unlock in Go)")
			return b.String()
		case e.Holder != nil && e.Holder.Log != "" && e.Holder.Host != "":
			// A lock shared by several hosts: the log is where its run was.
			b.WriteString(" on ")
			b.WriteString(e.Holder.Host)
		}
		if e.advice != "" {
			b.WriteString(", then clear the lock to run again: ")
			b.WriteString(e.advice)
			return b.String()
		}
		b.WriteString(", then clear ")
		b.WriteString(e.Path)
		b.WriteString(" to run again (Locker.Clear in Go)")
		return b.String()
	}
	b.WriteString(e.Path)
	b.WriteString(" is held by ")
	if e.Holder == nil {
		b.WriteString("another run that has not written its details yet")
	} else {
		b.WriteString("run ")
		b.WriteString(e.Holder.describe())
		if e.Holder.Status == StateFailure {
			b.WriteString(", which has recorded a failure and is still running")
		}
	}
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	b.WriteString("; another run is in progress: wait for it to finish")
	return b.String()
}

// Unwrap returns ErrLocked or ErrStaleLock.
func (e *LockError) Unwrap() error { return e.Err }

// outcome says how the run the file names ended: " failed: <error>",
// " was cancelled: <cause>", " timed out: <cause>", or " died without
// stopping".
func (i *LockInfo) outcome() string {
	what := ""
	switch i.Status {
	case StateFailure, StateError:
		what = " failed"
	case StateCancellation:
		what = " was cancelled"
	case StateTimeout:
		what = " timed out"
	default:
		return " died without stopping"
	}
	if i.Error != "" {
		return what + ": " + i.Error
	}
	return what
}

func (i *LockInfo) describe() string {
	var b strings.Builder
	b.WriteString("pid ")
	b.WriteString(strconv.Itoa(i.PID))
	if i.Host != "" {
		b.WriteString(" on ")
		b.WriteString(i.Host)
	}
	if i.Job != "" {
		b.WriteString(" (job ")
		b.WriteString(i.Job)
		b.WriteString(")")
	}
	if !i.Started.IsZero() {
		b.WriteString(" started ")
		b.WriteString(i.Started.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// PathError is returned by New and Start for a log or lock path that cannot
// be used: empty, the same for both, a directory, a symlink, or in a missing
// directory. Op names the role of the path ("log" or "lock").
type PathError struct {
	Op   string
	Path string
	Err  error
}

// Error names the path, its role and the problem.
func (e *PathError) Error() string {
	return "pigging: " + e.Op + " path " + strconv.Quote(e.Path) + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *PathError) Unwrap() error { return e.Err }
