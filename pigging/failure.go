package pigging

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/pigging-go/pigging/internal/errtype"
)

// setFailure keeps err as the run's failure unless it has one already.
func (r *run) setFailure(err error) {
	r.failMu.Lock()
	if r.failure == nil {
		r.failure = err
	}
	r.failMu.Unlock()
}

// markFailed writes the run's failure into the lock at once, so that a
// process that exits right after LogException, without Stop, still leaves
// StateFailure and the error for the next run to find. Only the first
// failure is written.
func (r *run) markFailed() {
	r.markMu.Lock()
	defer r.markMu.Unlock()
	r.failMu.Lock()
	failure := r.failure
	write := !r.marked && failure != nil
	r.marked = r.marked || write
	info := r.info
	r.failMu.Unlock()
	if write {
		r.writeState(&info, StateFailure, failure)
	}
}

// markCancelled writes into the lock at once that the run was cancelled
// by cause, so that a process ended by a second signal leaves
// StateCancellation for the next run to find. A failure written already
// stays.
func (r *run) markCancelled(cause error) {
	if r == nil {
		return
	}
	r.markMu.Lock()
	defer r.markMu.Unlock()
	r.failMu.Lock()
	marked := r.marked
	info := r.info
	r.failMu.Unlock()
	if !marked {
		r.writeState(&info, StateCancellation, cause)
	}
}

// writeState writes info with state and err into the lock. The caller
// holds r.markMu, which keeps these writes in order; failMu is not held,
// as the lock may be a database round trip away.
func (r *run) writeState(info *LockInfo, state RunState, err error) {
	info.Status = state
	info.Error = errtype.Message(err)
	ctx, cancel := lockContext(r.ctx)
	defer cancel()
	if err := r.lease.Update(ctx, info); err != nil {
		if errors.Is(err, ErrLockLost) {
			r.failMu.Lock()
			r.lockLost = err
			r.failMu.Unlock()
			return
		}
		otel.Handle(fmt.Errorf("pigging: writing the %s into %s: %w", state, r.t.locker, err))
	}
}

// noteReport remembers that err was written in full, by stage ("" for the
// run), so that the run does not write it again.
func (r *run) noteReport(err error, stage string) {
	r.failMu.Lock()
	if len(r.reported) < maxReports {
		r.reported = append(r.reported, report{err: err, stage: stage})
	}
	r.failMu.Unlock()
}

// reportOf returns how err was written already: found, and the stage that
// wrote it ("" when the run did, through LogException).
func (r *run) reportOf(err error) (stage string, found bool) {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	for _, rp := range r.reported {
		if isErr(err, rp.err) {
			return rp.stage, true
		}
	}
	return "", false
}

// isErr is errors.Is that never panics on an Unwrap or Is method that does.
func isErr(err, target error) (is bool) {
	defer func() {
		if recover() != nil {
			is = false
		}
	}()
	return errors.Is(err, target)
}

// LogException logs err at ERROR (with its stack when it is a
// *PanicError), marks the run failed and writes that into the lock file at
// once (so it is kept even if the process exits without Stop), adds an
// exception event to the run span, and returns err unchanged so that
// "return t.LogException(err)" reads naturally. A nil err is ignored.
//
// An error is written in full once: when a middleware stage has logged err
// already (or an error it wraps), the record only names the stage and
// points to its record above, and the exception event stays on the stage's
// span; the same err given twice is written once. Before Start or after
// Stop began it writes the record to stderr and returns err joined with
// ErrNotStarted or ErrStopped. A broken err (a typed nil, an Error method
// that panics) is recorded with a readable stand-in, never a crash.
func (t *Tracker) LogException(err error) error {
	if err == nil {
		return nil
	}
	rec := record{time: time.Now(), level: slog.LevelError, msg: errtype.Message(err), stack: panicStack(err),
		own: true, failure: err, exception: true}
	if r := t.currentRun(); r != nil {
		if stage, found := r.reportOf(err); found {
			if stage == "" {
				r.setFailure(err) // written already by the run itself
				return err
			}
			rec.msg = "Run failed: " + stage + " failed; its error is logged above"
			rec.stack, rec.exception = nil, false
		} else {
			r.noteReport(err, "")
		}
	}
	if lerr := t.emit(&rec, fields{}); errors.Is(lerr, ErrNotStarted) || errors.Is(lerr, ErrStopped) {
		return fmt.Errorf("%w (%w)", err, lerr)
	}
	return err
}

// panicStack returns the stack of the panic err is or wraps, or nil. It
// never panics on a broken error in the chain.
func panicStack(err error) []byte {
	if pe, ok := errtype.As[*PanicError](err); ok && pe != nil {
		return pe.Stack
	}
	return nil
}
