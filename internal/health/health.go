// Package health tells, from a job's run history and its lock, whether the
// job is healthy at a given time: it succeeded recently enough (a maximum
// age, or a cron schedule and a grace period) and its live run, if any,
// has not been going too long. It is what "pigging status --max-age,
// --max-runtime, --every" computes; it does no I/O and takes its clock as
// an argument, so that every deadline can be checked at a fixed time.
package health

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pigging-go/pigging/pigging"
)

// Policy is what a job must meet to be healthy. A zero field is a check
// that is off.
type Policy struct {
	// MaxAge is the most time since the job's last success ended.
	MaxAge time.Duration
	// MaxRuntime is the most time the live run may have been going.
	MaxRuntime time.Duration
	// Every is the job's schedule: a success must have ended after the
	// latest time the schedule fired that is at least Grace ago.
	Every cron.Schedule
	// Grace is the time a scheduled run has to start and succeed.
	Grace time.Duration
}

// Checks reports whether p asks for any check.
func (p Policy) Checks() bool { return p.MaxAge > 0 || p.MaxRuntime > 0 || p.Every != nil }

// ParseSchedule parses a standard five-field cron expression ("0 2 * * *"),
// a descriptor ("@daily", "@every 1h"), either one optionally prefixed with
// "CRON_TZ=Area/City " for the time zone it is read in (the local one by
// default), as cron and Kubernetes CronJobs read them. It returns an error
// naming the expression and what is wrong with it.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return s, nil
}

// Problem is one way a job is not healthy.
type Problem int

const (
	// Late means no success within the maximum age or since the schedule's
	// deadline, including a job that never succeeded at all.
	Late Problem = iota + 1
	// Overrun means the live run has been going longer than the maximum
	// runtime.
	Overrun
)

// String returns "late" or "overrun".
func (p Problem) String() string {
	switch p {
	case Late:
		return "late"
	case Overrun:
		return "overrun"
	}
	return fmt.Sprintf("Problem(%d)", int(p))
}

// Finding is a problem and why, in words a person reads.
type Finding struct {
	Problem Problem `json:"problem"`
	Reason  string  `json:"reason"`
}

// Report is what Evaluate found.
type Report struct {
	// LastSuccess is the newest run that succeeded; nil when none is in
	// the history.
	LastSuccess *pigging.RunEntry
	// LastFailure is the newest run that ended without success (failure,
	// error, timeout, cancellation; a refused start is not a run).
	LastFailure *pigging.RunEntry
	// LastRun is the newest run that started (refusals left out).
	LastRun *pigging.RunEntry
	// NeverRan is true when the history holds no run that started and no
	// run holds or left the lock.
	NeverRan bool
	// Running is the live run's age, when a live run holds the lock.
	Running time.Duration
	// Due is the latest time a success had to have ended by, when a
	// check asked for one (MaxAge or Every); zero otherwise.
	Due time.Time
	// Findings are the problems found, Late before Overrun.
	Findings []Finding
}

// Has reports whether r found problem p.
func (r *Report) Has(p Problem) bool {
	for _, f := range r.Findings {
		if f.Problem == p {
			return true
		}
	}
	return false
}

// Evaluate checks a job at time now against p, from its history (newest
// first, as pigging.History.Runs returns it) and its lock's state (nil
// when unknown).
func Evaluate(now time.Time, runs []pigging.RunEntry, lock *pigging.LockStatus, p Policy) *Report {
	r := &Report{}
	for i := range runs {
		e := &runs[i]
		switch {
		case e.Result == pigging.StateSkip || !e.Result.Ended():
			continue
		case r.LastRun == nil:
			r.LastRun = e
		}
		if e.Result == pigging.StateSuccess {
			if r.LastSuccess == nil {
				r.LastSuccess = e
			}
		} else if r.LastFailure == nil {
			r.LastFailure = e
		}
		if r.LastSuccess != nil && r.LastFailure != nil {
			break
		}
	}
	live := lock != nil && lock.State == pigging.LockRunning
	if live && lock.Holder != nil && !lock.Holder.Started.IsZero() {
		r.Running = max(now.Sub(lock.Holder.Started), 0)
	}
	r.NeverRan = r.LastRun == nil && (lock == nil || lock.State == pigging.LockFree)

	if p.MaxAge > 0 {
		r.Due = now.Add(-p.MaxAge)
		if f, late := r.lateSince(r.Due, fmt.Sprintf("within --max-age %s", p.MaxAge)); late {
			r.Findings = append(r.Findings, f)
		}
	}
	if p.Every != nil {
		if tick, ok := LastTick(p.Every, now.Add(-p.Grace)); ok {
			if tick.After(r.Due) {
				r.Due = tick
			}
			what := fmt.Sprintf("since the run scheduled at %s (grace %s)", tick.Format(time.RFC3339), p.Grace)
			if f, late := r.lateSince(tick, what); late && !r.Has(Late) {
				r.Findings = append(r.Findings, f)
			}
		}
	}
	if p.MaxRuntime > 0 && live && r.Running > p.MaxRuntime {
		r.Findings = append(r.Findings, Finding{Overrun, fmt.Sprintf(
			"the live run has been going %s, past --max-runtime %s", r.Running.Round(time.Second), p.MaxRuntime)})
	}
	return r
}

// lateSince reports a Late finding when no success ended at or after due.
func (r *Report) lateSince(due time.Time, what string) (Finding, bool) {
	switch {
	case r.LastSuccess == nil && r.NeverRan:
		return Finding{Late, "the job never ran (no run in its history), expected a success " + what}, true
	case r.LastSuccess == nil:
		return Finding{Late, "the job has no success in its history, expected one " + what}, true
	case r.LastSuccess.Ended.Before(due):
		return Finding{Late, fmt.Sprintf("the last success ended %s, none %s",
			r.LastSuccess.Ended.UTC().Format(time.RFC3339), what)}, true
	}
	return Finding{}, false
}

// lookback are the windows LastTick searches, shortest first, so that a
// frequent schedule costs few steps and a yearly one is still found.
var lookback = []time.Duration{
	time.Hour, 26 * time.Hour, 8 * 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5 * 367 * 24 * time.Hour,
}

// LastTick returns the latest time at or before t that schedule s fires,
// and false when it fires at no time in the five years before t. The cron
// library gives only the next time after a given one; LastTick walks
// forward from the start of the shortest window that holds a firing.
func LastTick(s cron.Schedule, t time.Time) (time.Time, bool) {
	for _, w := range lookback {
		next := s.Next(t.Add(-w))
		if next.IsZero() || next.After(t) {
			continue
		}
		for {
			n := s.Next(next)
			if n.IsZero() || n.After(t) {
				return next, true
			}
			next = n
		}
	}
	return time.Time{}, false
}
