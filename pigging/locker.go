package pigging

import "context"

// Locker is where a job's lock and its fail-stop state live: which run
// holds it, and what the run that left it said (failed, cancelled, died).
// The default is the lock file (NewFileLocker); package pglock keeps them in
// PostgreSQL, so that a job scheduled on several hosts runs once.
//
// A Locker gives the same meaning as the lock file on every host: a lock
// held by a live run refuses the next one (ErrLocked); a lock left by a run
// that did not succeed is stale and refuses it too (ErrStaleLock) until it
// is cleared or taken over.
//
// Implementations must be safe for concurrent use by several Trackers.
type Locker interface {
	// Acquire tries the lock for the run that info describes, without
	// waiting. When a live run holds it, the result has a nil Lease and
	// says who holds it. When it is taken, Stale says whether a previous
	// run left it, and Holder what that run said. Only a failure of the
	// store itself (a bad path, a database that cannot be reached) is an
	// error; it must then have changed nothing.
	Acquire(ctx context.Context, info *LockInfo) (Acquired, error)
	// Inspect reports the lock's state without changing it.
	Inspect(ctx context.Context) (*LockStatus, error)
	// Clear removes a stale lock and returns what it said; a lock held by
	// a live run is refused with a *LockError wrapping ErrLocked; a free
	// lock is not an error.
	Clear(ctx context.Context) (*LockStatus, error)
	// String names the lock in messages: the lock file's path, or the
	// database and job.
	String() string
}

// ClearAdvisor is a Locker that says how a person clears its stale lock.
// A run refused by a stale lock (a *LockError wrapping ErrStaleLock) ends
// its message with the advice: package pglock's is "pigging unlock --pg
// "$PIGGING_PG_DSN" --name JOB (Locker.Clear in Go)". The lock file needs
// none (its message says "pigging unlock --lock FILE"); a Locker that is
// not a ClearAdvisor is named by its String, with Locker.Clear.
type ClearAdvisor interface {
	// ClearAdvice returns, as one line, the command that clears the lock
	// and the Go call in parentheses. It must hold no secret (a password,
	// a whole DSN): the message goes to logs and spans. It cannot fail; an
	// empty result is no advice.
	ClearAdvice() string
}

// Acquired is what Locker.Acquire found.
type Acquired struct {
	// Lease is the lock, taken; nil when a live run holds it.
	Lease Lease
	// Holder is what the store says of the run that holds the lock or left
	// it; nil when the lock was free or the store does not say.
	Holder *LockInfo
	// Stale is true when the lock was taken from a previous run that did
	// not succeed (failed, cancelled, died) or from an unreadable record.
	Stale bool
	// Detail says why Holder is nil, when it matters, or how the holder is
	// known to be live.
	Detail string
}

// Lease is a lock held by a run, from Acquire until Release, Keep or Abort.
type Lease interface {
	// Update replaces the holder's details (its trace, a failure). It
	// returns an error wrapping ErrLockLost when the lock is no longer
	// held.
	Update(ctx context.Context, info *LockInfo) error
	// Release ends a run that succeeded: the lock is free.
	Release(ctx context.Context) error
	// Keep ends a run that did not succeed: the lock stays, with info
	// (its RunState and the error), for the next run to find.
	Keep(ctx context.Context, info *LockInfo) error
	// Abort undoes the claim of a Start that could not finish, leaving the
	// lock as Acquire found it.
	Abort(ctx context.Context) error
	// Lost returns a channel closed when the lock is lost while the run
	// goes on (a database connection that died), or nil when the Locker
	// learns it only when asked (Check).
	Lost() <-chan struct{}
	// Check returns an error wrapping ErrLockLost when the lock is no
	// longer held by this run.
	Check(ctx context.Context) error
}
