package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/pigging-go/pigging/pigging"
)

// Exit statuses of "pigging status", so that scripts and monitoring can
// branch on them; "pigging unlock" uses the same for a lock it refuses.
const (
	exitFree    = 0 // no lock file: a run may start
	exitRunning = 1 // a live run holds the lock
	exitStale   = 2 // a run that failed, was cancelled or died left the lock
	// exitLockUsage is a bad command line of status or unlock: 2 means
	// stale there, so they use sysexits' EX_USAGE.
	exitLockUsage = 64
)

const statusUsage = `Usage: pigging status [--name JOB | --lock FILE] [--json]

Shows whether a job's lock is free, held by a running job (pid, host, age,
trace id), or stale: left by a run that failed, was cancelled or died, with
its error and the log to read. It changes nothing.

Exit status: 0 free, 1 running, 2 stale, 64 bad usage, 125 when the lock
file cannot be read.

`

const unlockUsage = `Usage: pigging unlock [--name JOB | --lock FILE]

Clears a stale lock, after a person has read the failed run's log: shows
what the lock said, removes it, and appends one record saying who cleared it
to that run's log. It refuses a lock held by a running job (exit status 1),
and removes only the file it inspected, so it cannot remove the lock of a run
that starts meanwhile.

Exit status: 0 cleared or already free, 1 refused (a run holds it), 64 bad
usage, 125 when the lock file cannot be read or removed.

`

// lockFlags parses the flags status and unlock share. It reports false
// when the command is over, with the exit status it returns.
func (c *cli) lockFlags(name, usage string, args []string, withJSON bool) (lock string, asJSON bool, code int, ok bool) {
	fs := flag.NewFlagSet("pigging "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	job := fs.String("name", "", "the job's `name`: its lock is JOB.lock in the working directory")
	fs.StringVar(&lock, "lock", "", "the lock `file` (default JOB.lock)")
	if withJSON {
		fs.BoolVar(&asJSON, "json", false, "print the state as one JSON object")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = io.WriteString(c.stdout, usage)
			fs.SetOutput(c.stdout)
			fs.PrintDefaults()
			return "", false, exitOK, false
		}
		fmt.Fprintf(c.stderr, "pigging %s: %v\nRun 'pigging help %s' for usage.\n", name, err, name)
		return "", false, exitLockUsage, false
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(c.stderr, "pigging %s: unexpected argument %q\nRun 'pigging help %s' for usage.\n", name, fs.Arg(0), name)
		return "", false, exitLockUsage, false
	case lock == "" && *job == "":
		fmt.Fprintf(c.stderr, "pigging %s: give --name JOB or --lock FILE\nRun 'pigging help %s' for usage.\n", name, name)
		return "", false, exitLockUsage, false
	case lock == "":
		lock = *job + ".lock"
	}
	return lock, asJSON, 0, true
}

// statusCommand is "pigging status".
func (c *cli) statusCommand(args []string) int {
	lock, asJSON, code, ok := c.lockFlags("status", statusUsage, args, true)
	if !ok {
		return code
	}
	st, err := pigging.ReadLock(lock)
	if err != nil {
		fmt.Fprintf(c.stderr, "pigging status: %s\n", errText(err))
		return exitInternal
	}
	if asJSON {
		out := struct {
			Lock   string            `json:"lock"`
			State  string            `json:"state"`
			Holder *pigging.LockInfo `json:"holder,omitempty"`
			Detail string            `json:"detail,omitempty"`
		}{st.Path, st.State.String(), st.Holder, st.Detail}
		b, _ := json.Marshal(out)
		fmt.Fprintf(c.stdout, "%s\n", b)
	} else {
		fmt.Fprint(c.stdout, describeStatus(st, time.Now()))
	}
	switch st.State {
	case pigging.LockRunning:
		return exitRunning
	case pigging.LockStale:
		return exitStale
	}
	return exitFree
}

// describeStatus says what st means to a person, in a few lines.
func describeStatus(st *pigging.LockStatus, now time.Time) string {
	switch st.State {
	case pigging.LockFree:
		return st.Path + ": free\n"
	case pigging.LockRunning:
		s := st.Path + ": running"
		if h := st.Holder; h != nil {
			s += fmt.Sprintf(": pid %d on %s (job %s) since %s (%s ago)", h.PID, h.Host, h.Job,
				h.Started.UTC().Format(time.RFC3339), now.Sub(h.Started).Round(time.Second))
			if h.TraceID != "" {
				s += "\n  trace " + h.TraceID
			}
		}
		if st.Detail != "" {
			s += "\n  " + st.Detail
		}
		return s + "\n"
	}
	s := st.Path + ": stale: "
	h := st.Holder
	if h == nil {
		return s + "the file does not say which run left it (" + st.Detail + ")\n  read the log, then: pigging unlock --lock " + st.Path + "\n"
	}
	what := "died without stopping"
	switch h.Status {
	case pigging.StateFailure, pigging.StateError:
		what = "failed"
	case pigging.StateCancellation:
		what = "was cancelled"
	case pigging.StateTimeout:
		what = "timed out"
	}
	s += fmt.Sprintf("pid %d on %s (job %s) started %s %s", h.PID, h.Host, h.Job, h.Started.UTC().Format(time.RFC3339), what)
	if h.Error != "" {
		s += ": " + h.Error
	}
	if h.TraceID != "" {
		s += "\n  trace " + h.TraceID
	}
	log := h.Log
	if log == "" {
		log = "its log"
	}
	return s + "\n  read " + log + ", then: pigging unlock --lock " + st.Path + "\n"
}

// unlockCommand is "pigging unlock".
func (c *cli) unlockCommand(args []string) int {
	lock, _, code, ok := c.lockFlags("unlock", unlockUsage, args, false)
	if !ok {
		return code
	}
	st, err := pigging.Unlock(lock)
	switch {
	case errors.Is(err, pigging.ErrLocked):
		fmt.Fprintf(c.stderr, "pigging unlock: refused, the lock is held by a running job:\n%s", describeStatus(st, time.Now()))
		return exitRunning
	case err != nil && st == nil:
		fmt.Fprintf(c.stderr, "pigging unlock: %s\n", errText(err))
		return exitInternal
	case st.State == pigging.LockFree:
		fmt.Fprintf(c.stdout, "%s: free, nothing to clear\n", st.Path)
		return exitOK
	}
	// "cleared" only when the file is gone: Unlock may refuse to remove it
	// (a file another user owns, one that changed meanwhile), or fail
	// after removing it (the record for the failed run's log).
	cleared := err == nil
	if !cleared {
		_, serr := os.Lstat(lock)
		cleared = errors.Is(serr, fs.ErrNotExist)
	}
	if cleared {
		fmt.Fprintf(c.stdout, "cleared %s", describeStatus(st, time.Now()))
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "pigging unlock: %s\n", errText(err))
		return exitInternal
	}
	return exitOK
}
