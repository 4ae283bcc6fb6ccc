package middleware

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/semkeys"
)

// do calls f once, or up to the configured attempts with a child span
// for each, and returns the last error. With attempts, it sets
// c.onAttempt when the error it returns is the one the last attempt's
// span recorded.
func (c *call) do(f func(context.Context) error) error {
	s := c.s
	if s.attempt == nil {
		c.attempts = 1
		return c.try(c.ctx, f)
	}
	var last error
	for n := 1; n <= s.cfg.attempts; n++ {
		if n > 1 {
			if err := c.wait(n, last); err != nil {
				// A new error, that no attempt span has.
				c.onAttempt = false
				return err
			}
		}
		c.attempts = n
		actx, aspan := c.tracer.Start(c.ctx, s.attempt[n-1], s.attemptOpts[n-1]...)
		err := c.try(actx, f)
		if err == nil {
			aspan.End()
			c.onAttempt = false
			return nil
		}
		c.onAttempt = aspan.IsRecording()
		if c.onAttempt {
			if c.timedOut {
				aspan.SetAttributes(semkeys.TimedOut.Bool(true))
			}
			recordError(aspan, err, true)
		}
		last = err
		_, panicked := errtype.As[*PanicError](err)
		retry := n < s.cfg.attempts && !panicked
		if retry && c.tracker != nil {
			c.tracker.LogAttrs(actx, slog.LevelWarn,
				fmt.Sprintf("%s attempt %d of %d failed, retrying: %s", s.spanName, n, s.cfg.attempts, errtype.Message(err)),
				slog.Int("attempt", n))
		}
		aspan.End()
		if !retry {
			break
		}
	}
	return last
}

// try calls f once with the attempt's deadline, turning a panic into a
// *PanicError. It sets c.timedOut when the attempt failed after its own
// deadline passed while the caller's ctx was still live.
func (c *call) try(ctx context.Context, f func(context.Context) error) (err error) {
	c.timedOut = false
	if d := c.s.cfg.timeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
		defer func() {
			c.timedOut = err != nil && ctx.Err() != nil && c.ctx.Err() == nil
		}()
	}
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return f(ctx)
}

// wait sleeps before attempt n. When the caller's ctx ends first, it
// returns an error that wraps both ctx's error and last.
func (c *call) wait(n int, last error) error {
	stopped := func() error {
		return fmt.Errorf("%s: gave up before attempt %d of %d: %w (last attempt: %w)",
			c.s.spanName, n, c.s.cfg.attempts, c.ctx.Err(), last)
	}
	if c.ctx.Err() != nil {
		return stopped()
	}
	d := fullJitter(backoff(c.s.cfg.backoff, n))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return stopped()
	case <-t.C:
		return nil
	}
}

// backoff returns the longest wait before attempt n (n ≥ 2):
// base·2^(n-2), capped at MaxBackoff.
func backoff(base time.Duration, n int) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base
	for i := 2; i < n; i++ {
		if d >= MaxBackoff/2 {
			return MaxBackoff
		}
		d *= 2
	}
	return min(d, MaxBackoff)
}

// fullJitter returns a random wait in [0, max].
func fullJitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(max) + 1))
}
