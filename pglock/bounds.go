package pglock

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TimeoutError says that one of the Locker's bounds ran out before the
// server answered: which option sets it, and its value. The errors of
// New's Locker wrap it when that is why they failed; errors.Is(err,
// context.DeadlineExceeded) is true for it too.
type TimeoutError struct {
	Option string        // "WithConnectTimeout", "WithQueryTimeout" or "WithCheckTimeout"
	Limit  time.Duration // the bound that ran out
}

// Error says which bound ran out, as "no answer within 30s
// (WithQueryTimeout)".
func (e *TimeoutError) Error() string {
	return "no answer within " + e.Limit.String() + " (" + e.Option + ")"
}

// Timeout reports true: the error is a timeout.
func (e *TimeoutError) Timeout() bool { return true }

// Is reports whether target is context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// bound returns ctx bounded by d; when d runs out, ctx's cause is a
// *TimeoutError naming option.
func bound(ctx context.Context, d time.Duration, option string) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, &TimeoutError{Option: option, Limit: d})
}

// queryBound bounds the statements of one operation by the query timeout.
func (l *Locker) queryBound(ctx context.Context) (context.Context, context.CancelFunc) {
	return bound(ctx, l.queryTimeout, "WithQueryTimeout")
}

// boundErr adds to err the bound of ctx that ran out, when one did and err
// does not say so already.
func boundErr(ctx context.Context, err error) error {
	var te *TimeoutError
	if err == nil || ctx.Err() == nil || errors.As(err, &te) || !errors.As(context.Cause(ctx), &te) {
		return err
	}
	return fmt.Errorf("%w: %w", te, err)
}

// ownBounds returns ctx without its deadline, still cancelled when ctx is
// cancelled otherwise. The Tracker bounds each call on its lock by a fixed
// time that a loaded server can exceed; the Locker's calls are bounded by
// its own options instead, which say so when they run out.
func ownBounds(ctx context.Context) (context.Context, context.CancelFunc) {
	own, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			cancel(context.Cause(ctx))
		}
	})
	return own, func() { stop(); cancel(nil) }
}
