package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/pigging-go/pigging/internal/ping"
	"github.com/pigging-go/pigging/pigging"
)

// pingEnv names the variable that gives --ping its default, so a check URL
// (as good as a password) can stay out of the crontab line and ps.
const pingEnv = "PIGGING_PING_URL"

// pingStart sends URL/start without holding up the command: the run goes
// on while it is under way, and pingEnd waits for it, so the service sees
// the start before the end. A ping that fails is a WARN record in the run's
// log, never a failure of the run. Without a Pinger it does nothing.
func (c *cli) pingStart(ctx context.Context, t *pigging.Tracker, p *ping.Pinger) <-chan struct{} {
	done := make(chan struct{})
	if p == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		if err := p.Start(ctx); err != nil {
			c.pingFailed(t, err)
		}
	}()
	return done
}

// pingEnd waits for the start ping, then says how the run ended: URL on
// exit status 0, URL/<status> otherwise, with the last 10 KiB of the log as
// the body. It runs before Stop, so that a failed ping is a WARN in the log
// it is about.
func (c *cli) pingEnd(ctx context.Context, t *pigging.Tracker, p *ping.Pinger, started <-chan struct{}, code int) {
	if p == nil {
		return
	}
	<-started
	body, err := ping.Tail(t.LogPath(), ping.DefaultBodyLimit)
	if err != nil && len(body) == 0 {
		body = []byte(fmt.Sprintf("pigging: the run's log cannot be read: %v\n", err))
	}
	if code == exitOK {
		err = p.Success(ctx, body)
	} else {
		err = p.Fail(ctx, code, body)
	}
	if err != nil {
		c.pingFailed(t, err)
	}
}

// pingRefused reports a run the lock refused because a previous run
// failed, was cancelled or died (URL/fail, with the refusal as the body):
// until a person clears the lock the job does not run, which a check
// should show. A run refused because another one is still running sends
// nothing: that run's own pings speak for the job.
func (c *cli) pingRefused(ctx context.Context, p *ping.Pinger, refusal error) {
	if p == nil || !errors.Is(refusal, pigging.ErrStaleLock) {
		return
	}
	if err := p.Fail(ctx, -1, []byte(refusal.Error()+"\n")); err != nil {
		fmt.Fprintf(c.stderr, "pigging: WARN: %v; the run's outcome is unchanged\n", err)
	}
}

// pingFailed records a failed ping as a WARN record of the run and on
// stderr.
func (c *cli) pingFailed(t *pigging.Tracker, err error) {
	t.Warn("Ping failed; the run's outcome is unchanged", "error", err.Error())
	fmt.Fprintf(c.stderr, "pigging: WARN: %v; the run's outcome is unchanged\n", err)
}
