package pglock_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// detectionBound is what the tests allow between the server ending the
// session that holds a lock and the run's ctx being cancelled: one check
// interval (1 s by default) plus the failed ping, with room for a loaded
// machine.
const detectionBound = pglock.DefaultCheckInterval + time.Second

// lostRun is a run whose lock is lost while it waits on its ctx.
type lostRun struct {
	token   int64
	backend int
	err     error         // what Run returned
	noticed time.Time     // when the run's ctx was done
	started chan struct{} // closed when the run holds the lock
	done    chan struct{} // closed when Run has returned
}

// startLostRun starts a run in a goroutine that waits (at most a minute)
// for its ctx to be cancelled, then returns its cause.
func startLostRun(t *testing.T, l *pglock.Locker, table, job, logPath string, opts ...pigging.Option) *lostRun {
	t.Helper()
	lr := &lostRun{started: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		lr.err = pigging.Run(context.Background(), logPath, "", func(ctx context.Context, tr *pigging.Tracker) error {
			lr.token = l.Token()
			close(lr.started)
			select {
			case <-ctx.Done():
				lr.noticed = time.Now()
				return context.Cause(ctx)
			case <-time.After(time.Minute):
				return errors.New("the run's ctx was not cancelled within a minute")
			}
		}, trackerOpts(l, job, opts...)...)
	}()
	select {
	case <-lr.started:
	case <-lr.done:
		t.Fatalf("the run did not start: %v", lr.err)
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not start within 30 s")
	}
	r := readRow(t, table, job)
	if r == nil || r.Token != lr.token {
		t.Fatalf("row of the started run = %+v, token %d", r, lr.token)
	}
	lr.backend = r.BackendPID
	return lr
}

func (lr *lostRun) wait(t *testing.T) {
	t.Helper()
	select {
	case <-lr.done:
	case <-time.After(90 * time.Second):
		t.Fatal("Run did not return within 90 s")
	}
}

// A holder whose database session is killed (pg_terminate_backend) learns
// it within one check interval and a ping, its ctx is cancelled with
// ErrLockLost, the run ends failed (ERROR in the log, status failed in the
// row), and the next run is refused as stale or takes over.
func TestBackendTerminated(t *testing.T) {
	table := newTable(t)
	l := newLocker(t, table, "terminated")
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job.log")

	var worst time.Duration
	var last int64
	for i := range 3 {
		var opts []pigging.Option
		if i > 0 {
			opts = append(opts, pigging.WithStaleLock(pigging.TakeOver))
		}
		lr := startLostRun(t, l, table, "terminated", logPath, opts...)
		if lr.token <= last {
			t.Errorf("token %d after %d", lr.token, last)
		}
		last = lr.token
		killed := time.Now()
		sqlExec(t, "SELECT pg_terminate_backend($1)", lr.backend)
		lr.wait(t)
		took := lr.noticed.Sub(killed)
		t.Logf("run %d: the run's ctx was cancelled %v after pg_terminate_backend", i+1, took.Round(time.Millisecond))
		worst = max(worst, took)
		if !errors.Is(lr.err, pigging.ErrLockLost) {
			t.Fatalf("Run = %v, want ErrLockLost", lr.err)
		}
		// The server ended the session: no bound ran out.
		if te := (*pglock.TimeoutError)(nil); errors.As(lr.err, &te) {
			t.Errorf("Run = %v names the bound %s, but the session was ended by the server", lr.err, te.Option)
		}
		log := readLog(t, logPath)
		if !strings.Contains(log, "ERROR: Lost the lock "+l.String()+" during the run") {
			t.Errorf("log:\n%s", log)
		}
		r := readRow(t, table, "terminated")
		if r == nil || r.Status != pigging.StateError || r.Token != lr.token || !strings.Contains(r.Error, "the database session that held the lock ended or stopped answering: FATAL: terminating connection due to administrator command") {
			t.Fatalf("row after the lost run = %+v", r)
		}
		if st := inspect(t, l); st.State != pigging.LockStale {
			t.Fatalf("Inspect after the lost run = %v", st.State)
		}
	}
	if worst > detectionBound {
		t.Errorf("slowest detection %v, want at most %v", worst, detectionBound)
	}

	refused, _ := pigging.New(logPath, "", trackerOpts(l, "terminated")...)
	if _, err := refused.Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), "failed: pigging:") {
		t.Fatalf("Start after the lost run = %v, want ErrStaleLock saying it failed", err)
	}
}

// The server restarted mid-run: the holder's ctx is cancelled, the run
// ends failed, and once the server is back nothing claims a live run: the
// row says failed (written after the restart) and nobody holds the lock.
func TestServerRestart(t *testing.T) {
	ctl := strings.Fields(os.Getenv(envCtl))
	table := newTable(t)
	if len(ctl) == 0 {
		t.Skip("needs a command line to restart the test server: set " + envCtl + " (CI sets it to the throwaway cluster's pg_ctl)")
	}
	l := newLocker(t, table, "restarted")
	logPath := filepath.Join(t.TempDir(), "job.log")
	lr := startLostRun(t, l, table, "restarted", logPath)

	restarted := time.Now()
	cmd := exec.Command(ctl[0], append(ctl[1:], "restart", "-m", "fast")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restarting the server: %v\n%s", err, out)
	}
	t.Logf("pg_ctl restart took %v", time.Since(restarted).Round(time.Millisecond))
	lr.wait(t)
	t.Logf("the run's ctx was cancelled %v after the restart began", lr.noticed.Sub(restarted).Round(time.Millisecond))
	if !errors.Is(lr.err, pigging.ErrLockLost) {
		t.Fatalf("Run = %v, want ErrLockLost", lr.err)
	}
	if !strings.Contains(readLog(t, logPath), "ERROR: Lost the lock") {
		t.Errorf("log:\n%s", readLog(t, logPath))
	}
	st := inspect(t, l)
	if st.State != pigging.LockStale || st.Holder == nil || st.Holder.Status != pigging.StateError {
		t.Fatalf("after the restart: %+v (holder %+v), want stale and failed", st, st.Holder)
	}
	// The next run is refused as stale, not as held.
	refused, _ := pigging.New(logPath, "", trackerOpts(l, "restarted")...)
	if _, err := refused.Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("Start after the restart = %v, want ErrStaleLock", err)
	}
}
