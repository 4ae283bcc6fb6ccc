package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/pigging-go/pigging/internal/health"
	"github.com/pigging-go/pigging/pigging"
)

// Exit statuses of "pigging status", so that scripts and monitoring can
// branch on them; "pigging unlock" uses the same for a lock it refuses.
const (
	exitFree    = 0 // no lock file: a run may start
	exitRunning = 1 // a live run holds the lock
	exitStale   = 2 // a run that failed, was cancelled or died left the lock
	// With a check flag (--max-age, --max-runtime, --every):
	exitLate    = 3 // no success in time, or the job never ran
	exitOverrun = 4 // the live run has been going past --max-runtime
	// exitLockUsage is a bad command line of status or unlock: 2 means
	// stale there, so they use sysexits' EX_USAGE.
	exitLockUsage = 64
)

const statusUsage = `Usage: pigging status [--name JOB | --lock FILE] [--pg DSN] [--json]
                      [--max-age D] [--max-runtime D] [--every "CRON" [--grace D]]

Shows whether a job's lock is free, held by a running job (pid, host, age,
trace id), or stale: left by a run that failed, was cancelled or died, with
its error and the log to read; and, from the job's run history, when it last
succeeded and last failed, or that it never ran. It changes nothing.

As a monitoring check, --max-age, --max-runtime and --every turn a job that
did not run red: a job with no success within --max-age (or one that never
ran), a live run going longer than --max-runtime, or no success since the
latest time the cron schedule fired, --grace ago. With --pg it checks a job
that runs on other hosts.

Exit status: 0 free, 1 running, 2 stale; with a check flag: 0 healthy (free,
or running within its bounds), 2 stale, 3 late (no success in time, or never
ran), 4 overrunning (past --max-runtime), the first of 2, 3, 4 that applies.
64 bad usage, 125 when the lock or its history cannot be read.

`

const unlockUsage = `Usage: pigging unlock [--name JOB | --lock FILE] [--pg DSN]

Clears a stale lock, after a person has read the failed run's log: shows
what the lock said, removes it, and appends one record saying who cleared it
to that run's log (when it is on this host). It refuses a lock held by a
running job (exit status 1), and removes only the lock it inspected, so it
cannot remove the lock of a run that starts meanwhile.

Exit status: 0 cleared or already free, 1 refused (a run holds it), 64 bad
usage, 125 when the lock cannot be read or removed.

`

// lockCommand is the command line of status, unlock or history: the lock,
// and the flags of the command.
type lockCommand struct {
	fs     *flag.FlagSet
	lock   lockFlagSet
	asJSON bool
}

// newLockCommand returns the flag set of the lock command name, with the
// flags that name the lock, and --json when withJSON.
func newLockCommand(name string, withJSON bool) *lockCommand {
	lc := &lockCommand{fs: flag.NewFlagSet("pigging "+name, flag.ContinueOnError)}
	lc.fs.SetOutput(io.Discard)
	lc.lock.register(lc.fs)
	if withJSON {
		lc.fs.BoolVar(&lc.asJSON, "json", false, "print the result as JSON")
	}
	return lc
}

// parseLockCommand parses args and resolves the lock. It reports false
// when the command is over, with the exit status it returns.
func (c *cli) parseLockCommand(lc *lockCommand, usage string, args []string) (*lockTarget, int, bool) {
	name := strings.TrimPrefix(lc.fs.Name(), "pigging ")
	if err := lc.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = io.WriteString(c.stdout, usage)
			lc.fs.SetOutput(c.stdout)
			lc.fs.PrintDefaults()
			return nil, exitOK, false
		}
		return nil, c.lockUsage(name, err.Error()), false
	}
	if lc.fs.NArg() > 0 {
		return nil, c.lockUsage(name, fmt.Sprintf("unexpected argument %q", lc.fs.Arg(0))), false
	}
	t, err := lc.lock.target()
	if err != nil {
		return nil, c.lockUsage(name, errText(err)), false
	}
	return t, 0, true
}

// lockUsage reports a bad command line of the lock command name.
func (c *cli) lockUsage(name, msg string) int {
	c.badUsage(name, msg)
	return exitLockUsage
}

// badUsage reports msg, what is wrong with the command line of the
// command name, on stderr, with where to read its usage.
func (c *cli) badUsage(name, msg string) {
	fmt.Fprintf(c.stderr, "pigging %s: %s\nRun 'pigging help %s' for usage.\n", name, msg, name)
}

// statusFlags are the checks of "pigging status".
type statusFlags struct {
	maxAge, maxRuntime, grace time.Duration
	every, now                string
}

// statusCommand is "pigging status".
func (c *cli) statusCommand(args []string) int {
	lc := newLockCommand("status", true)
	var sf statusFlags
	lc.fs.DurationVar(&sf.maxAge, "max-age", 0, "check: the job must have succeeded within `D` (e.g. 26h); a job that never\nran fails the check")
	lc.fs.DurationVar(&sf.maxRuntime, "max-runtime", 0, "check: a live run must not have been going longer than `D`")
	lc.fs.StringVar(&sf.every, "every", "", "check: the job's cron `schedule` (\"0 2 * * *\", \"@daily\", with an optional\n\"CRON_TZ=Area/City \" prefix; the local time zone by default): a success\nmust have ended after the latest time it fired, --grace ago")
	lc.fs.DurationVar(&sf.grace, "grace", time.Hour, "with --every, the time a scheduled run has to succeed")
	lc.fs.StringVar(&sf.now, "now", "", "check as of this `time` (RFC 3339) instead of now, to try a check")
	t, code, ok := c.parseLockCommand(lc, statusUsage, args)
	if !ok {
		return code
	}
	policy, now, err := sf.policy()
	if err != nil {
		return c.lockUsage("status", err.Error())
	}
	ctx := context.Background()
	st, err := t.locker.Inspect(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "pigging status: %s\n", errText(err))
		return exitInternal
	}
	runs, herr := t.runs(ctx, 0)
	if herr != nil && policy.Checks() {
		fmt.Fprintf(c.stderr, "pigging status: %s\n", errText(herr))
		return exitInternal
	}
	rep := health.Evaluate(now, runs, st, policy)
	if lc.asJSON {
		c.printJSON(newStatusJSON(st, rep, herr, now))
	} else {
		fmt.Fprint(c.stdout, describeStatus(st, now, t.unlockHint))
		fmt.Fprint(c.stdout, describeHealth(rep, herr, now))
	}
	return statusCode(st, rep, policy.Checks())
}

// policy reads the check flags, and the time to check at.
func (sf *statusFlags) policy() (health.Policy, time.Time, error) {
	p := health.Policy{MaxAge: sf.maxAge, MaxRuntime: sf.maxRuntime, Grace: sf.grace}
	now := time.Now()
	var errs []error
	if sf.maxAge < 0 || sf.maxRuntime < 0 || sf.grace < 0 {
		errs = append(errs, errors.New("--max-age, --max-runtime and --grace take a positive duration"))
	}
	if sf.every != "" {
		s, err := health.ParseSchedule(sf.every)
		if err != nil {
			errs = append(errs, fmt.Errorf("--every: %w", err))
		}
		p.Every = s
	}
	if sf.now != "" {
		t, err := time.Parse(time.RFC3339, sf.now)
		if err != nil {
			errs = append(errs, fmt.Errorf("--now: %q is not an RFC 3339 time (2026-12-06T08:00:00Z)", sf.now))
		}
		now = t
	}
	return p, now, errors.Join(errs...)
}

// statusCode is the exit status of status: the lock's state, or with a
// check, whether the job is healthy.
func statusCode(st *pigging.LockStatus, rep *health.Report, checks bool) int {
	switch {
	case st.State == pigging.LockStale:
		return exitStale
	case !checks && st.State == pigging.LockRunning:
		return exitRunning
	case rep.Has(health.Late):
		return exitLate
	case rep.Has(health.Overrun):
		return exitOverrun
	}
	return exitFree
}

// runs reads the target's history, newest first; n <= 0 reads all it
// keeps.
func (t *lockTarget) runs(ctx context.Context, n int) ([]pigging.RunEntry, error) {
	h, err := t.history()
	if err != nil {
		return nil, err
	}
	return h.Runs(ctx, n)
}

// printJSON writes v as one line of JSON.
func (c *cli) printJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(c.stderr, "pigging: %v\n", err)
		return
	}
	fmt.Fprintf(c.stdout, "%s\n", b)
}

// describeStatus says what st means to a person, in a few lines; unlock is
// the command line that clears the lock.
func describeStatus(st *pigging.LockStatus, now time.Time, unlock string) string {
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
		return s + "the lock does not say which run left it (" + st.Detail + ")\n  read the log, then: " + unlock + "\n"
	}
	s += fmt.Sprintf("pid %d on %s (job %s) started %s %s", h.PID, h.Host, h.Job, h.Started.UTC().Format(time.RFC3339), endedHow(h.Status))
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
	if host, _ := os.Hostname(); h.Host != "" && h.Host != host {
		log += " on " + h.Host
	}
	return s + "\n  read " + log + ", then: " + unlock + "\n"
}

// endedHow says how a run that left its lock ended, from the lock's state
// (both lock kinds read legacy statuses as run states already).
func endedHow(state pigging.RunState) string {
	switch state {
	case pigging.StateFailure, pigging.StateError:
		return "failed"
	case pigging.StateTimeout:
		return "timed out"
	case pigging.StateCancellation:
		return "was cancelled"
	}
	return "died without stopping"
}

// describeHealth says what the history tells of the job: its last success
// and failure, or that it never ran, and the checks that failed.
func describeHealth(rep *health.Report, herr error, now time.Time) string {
	var b strings.Builder
	if herr != nil {
		fmt.Fprintf(&b, "  history: %s\n", errText(herr))
	} else {
		switch {
		case rep.NeverRan:
			b.WriteString("  never ran: no run in its history\n")
		case rep.LastRun == nil:
			b.WriteString("  no run has ended yet\n")
		}
		if e := rep.LastSuccess; e != nil {
			fmt.Fprintf(&b, "  last success: %s\n", describeEntry(e, now))
		} else if rep.LastRun != nil {
			b.WriteString("  last success: none in its history\n")
		}
		if e := rep.LastFailure; e != nil {
			fmt.Fprintf(&b, "  last failure: %s\n", describeEntry(e, now))
		}
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "  %s: %s\n", strings.ToUpper(f.Problem.String()), f.Reason)
	}
	return b.String()
}

// describeEntry says when a run ended, how long ago, what it took and,
// when it failed, why.
func describeEntry(e *pigging.RunEntry, now time.Time) string {
	s := fmt.Sprintf("ended %s (%s ago) after %s", e.Ended.UTC().Format(time.RFC3339),
		now.Sub(e.Ended).Round(time.Second), seconds(e.Duration))
	if e.Result != pigging.StateSuccess {
		s = string(e.Result) + ", " + s
	}
	if e.Host != "" {
		s += " on " + e.Host
	}
	if e.Error != "" {
		s += ": " + firstLine(e.Error)
	}
	return s
}

// seconds returns a duration in seconds as a time.Duration's text, to the
// millisecond.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

// firstLine returns s up to its first newline, with "..." when cut.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// statusJSON is what status --json prints.
type statusJSON struct {
	Lock        string            `json:"lock"`
	State       string            `json:"state"`
	Holder      *pigging.LockInfo `json:"holder,omitempty"`
	Detail      string            `json:"detail,omitempty"`
	RunningFor  *float64          `json:"running_for_s,omitempty"`
	NeverRan    bool              `json:"never_ran"`
	LastSuccess *pigging.RunEntry `json:"last_success,omitempty"`
	LastFailure *pigging.RunEntry `json:"last_failure,omitempty"`
	Due         *time.Time        `json:"due,omitempty"`
	Findings    []health.Finding  `json:"findings,omitempty"`
	History     string            `json:"history_error,omitempty"`
	Now         time.Time         `json:"now"`
}

func newStatusJSON(st *pigging.LockStatus, rep *health.Report, herr error, now time.Time) statusJSON {
	out := statusJSON{
		Lock: st.Path, State: st.State.String(), Holder: st.Holder, Detail: st.Detail,
		NeverRan: rep.NeverRan, LastSuccess: rep.LastSuccess, LastFailure: rep.LastFailure,
		Findings: rep.Findings, Now: now.UTC(),
	}
	if st.State == pigging.LockRunning && st.Holder != nil {
		s := rep.Running.Seconds()
		out.RunningFor = &s
	}
	if !rep.Due.IsZero() {
		d := rep.Due.UTC()
		out.Due = &d
	}
	if herr != nil {
		out.History = errText(herr)
		out.NeverRan = false
	}
	return out
}

// unlockCommand is "pigging unlock".
func (c *cli) unlockCommand(args []string) int {
	lc := newLockCommand("unlock", false)
	t, code, ok := c.parseLockCommand(lc, unlockUsage, args)
	if !ok {
		return code
	}
	st, err := pigging.ClearLock(context.Background(), t.locker)
	switch {
	case errors.Is(err, pigging.ErrLocked):
		fmt.Fprintf(c.stderr, "pigging unlock: refused, the lock is held by a running job:\n%s", describeStatus(st, time.Now(), t.unlockHint))
		return exitRunning
	case err != nil && st == nil:
		fmt.Fprintf(c.stderr, "pigging unlock: %s\n", errText(err))
		return exitInternal
	case st.State == pigging.LockFree:
		fmt.Fprintf(c.stdout, "%s: free, nothing to clear\n", st.Path)
		return exitOK
	}
	// "cleared" only when the lock is gone: Unlock may refuse to remove a
	// file (one another user owns, one that changed meanwhile), or fail
	// after removing it (the record for the failed run's log).
	cleared := err == nil
	if !cleared && t.file != "" {
		_, serr := os.Lstat(t.file)
		cleared = errors.Is(serr, fs.ErrNotExist)
	}
	if cleared {
		fmt.Fprintf(c.stdout, "cleared %s", describeStatus(st, time.Now(), t.unlockHint))
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "pigging unlock: %s\n", errText(err))
		return exitInternal
	}
	return exitOK
}
