package pigging_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/pigging"
)

// A lock file written before RunState says "failed" or "cancelled": it
// still reads as the state of a run that failed or was cancelled.
func TestLockReadsLegacyStates(t *testing.T) {
	for _, tt := range []struct {
		status string
		want   pigging.RunState
		says   string
	}{
		{"failed", pigging.StateFailure, "failed: boom"},
		{"cancelled", pigging.StateCancellation, "was cancelled: boom"},
		{"failure", pigging.StateFailure, "failed: boom"},
		{"cancellation", pigging.StateCancellation, "was cancelled: boom"},
		{"timeout", pigging.StateTimeout, "timed out: boom"},
		{"error", pigging.StateError, "failed: boom"},
	} {
		t.Run(tt.status, func(t *testing.T) {
			e := newUnitEnv(t)
			pigtest.WriteFile(t, e.lock, `{"pid":4242,"host":"h","job":"j","started":"2026-01-01T00:00:00Z","status":"`+tt.status+`","error":"boom"}`)
			st, err := pigging.ReadLock(e.lock)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != pigging.LockStale || st.Holder == nil || st.Holder.Status != tt.want {
				t.Fatalf("ReadLock = %+v, want a stale lock in state %s", st, tt.want)
			}
			_, err = e.tracker(t).Start(context.Background())
			if !errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Start = %v, want ErrStaleLock saying %q", err, tt.says)
			}
		})
	}
}

// A run whose ctx ran past its deadline ends in StateTimeout: the lock,
// the stop event and the run span say so.
func TestRunPastDeadlineIsTimeout(t *testing.T) {
	e := newUnitEnv(t)
	tr := e.tracker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := tr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	info := unitLockInfo(t, e.lock)
	if info.Status != pigging.StateTimeout || info.Error != "context deadline exceeded" {
		t.Errorf("lock = %+v, want status timeout", info)
	}
	s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	unitWantAttr(t, "stop", unitEvents(s, "stop")[0].Attributes, "cicd.pipeline.result", "timeout")
	unitWantAttr(t, "run span", s.Attributes(), "cicd.pipeline.result", "timeout")
}

// A run that failed once its ctx had run past its deadline failed because
// its time was up: it ends in StateTimeout with its own error, and keeps
// its lock even under TakeOver, which removes only a cancelled run's.
func TestRunFailedPastDeadlineIsTimeout(t *testing.T) {
	e := newUnitEnv(t)
	tr := e.tracker(t, pigging.WithStaleLock(pigging.TakeOver))
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := tr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	tr.LogException(errors.New("query cancelled"))
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	info := unitLockInfo(t, e.lock)
	if info.Status != pigging.StateTimeout || info.Error != "query cancelled" {
		t.Errorf("lock = %+v, want status timeout with the run's error", info)
	}
	s := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	unitWantAttr(t, "run span", s.Attributes(), "cicd.pipeline.result", "timeout")

	// The same failure with time to spare is a failure.
	e = newUnitEnv(t)
	tr = e.tracker(t)
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.LogException(errors.New("query cancelled"))
	_ = tr.Stop()
	if info := unitLockInfo(t, e.lock); info.Status != pigging.StateFailure {
		t.Errorf("lock = %+v, want status failure", info)
	}
}
