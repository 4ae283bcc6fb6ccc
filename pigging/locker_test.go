package pigging_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

// memLocker keeps one job's lock in memory, as a database would: the seam
// a Locker implementation plugs into, exercised without a server.
type memLocker struct {
	mu     sync.Mutex
	held   bool
	record *pigging.LockInfo // what the store says; nil when free
	lost   chan struct{}
}

func (m *memLocker) String() string { return "memory job lock" }

func (m *memLocker) Acquire(_ context.Context, info *pigging.LockInfo) (pigging.Acquired, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held {
		return pigging.Acquired{Holder: m.record}, nil
	}
	a := pigging.Acquired{Holder: m.record, Stale: m.record != nil}
	m.held = true
	i := *info
	m.record = &i
	m.lost = make(chan struct{})
	a.Lease = &memLease{m: m}
	return a, nil
}

func (m *memLocker) Inspect(context.Context) (*pigging.LockStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := &pigging.LockStatus{Path: m.String(), Holder: m.record}
	switch {
	case m.held:
		st.State = pigging.LockRunning
	case m.record != nil:
		st.State = pigging.LockStale
	}
	return st, nil
}

func (m *memLocker) Clear(ctx context.Context) (*pigging.LockStatus, error) {
	st, _ := m.Inspect(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held {
		return st, &pigging.LockError{Path: m.String(), Holder: m.record, Err: pigging.ErrLocked}
	}
	m.record = nil
	return st, nil
}

// loseIt makes the lease lost, as a dropped database connection would.
func (m *memLocker) loseIt() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held = false
	close(m.lost)
}

type memLease struct{ m *memLocker }

func (l *memLease) Update(_ context.Context, info *pigging.LockInfo) error {
	if err := l.Check(context.Background()); err != nil {
		return err
	}
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	i := *info
	l.m.record = &i
	return nil
}

func (l *memLease) Release(context.Context) error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	l.m.held, l.m.record = false, nil
	return nil
}

func (l *memLease) Keep(_ context.Context, info *pigging.LockInfo) error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	i := *info
	l.m.held, l.m.record = false, &i
	return nil
}

func (l *memLease) Abort(context.Context) error { return l.Release(context.Background()) }

func (l *memLease) Lost() <-chan struct{} { return l.m.lost }

func (l *memLease) Check(context.Context) error {
	select {
	case <-l.m.lost:
		return pigging.ErrLockLost
	default:
		return nil
	}
}

// A Tracker with another Locker keeps every meaning of the lock file: one
// run at a time, a failed run blocks the next until cleared, and a lock
// lost mid-run cancels the run's ctx with a cause that says so and fails
// the run.
func TestWithLocker(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job.log")
	mem := &memLocker{}
	opts := append(pigtest.QuietOpts(), pigging.WithLocker(mem))

	first, err := pigging.New(logPath, "", opts...)
	if err != nil {
		t.Fatalf("New with a Locker and no lock path: %v", err)
	}
	if _, err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	second, _ := pigging.New(filepath.Join(dir, "other.log"), "", opts...)
	_, err = second.Start(context.Background())
	var lerr *pigging.LockError
	if !errors.As(err, &lerr) || !errors.Is(err, pigging.ErrLocked) || lerr.Path != "memory job lock" {
		t.Fatalf("second Start = %v, want ErrLocked naming the Locker", err)
	}
	first.LogException(errors.New("warehouse down"))
	if st, _ := mem.Inspect(context.Background()); st.Holder == nil || st.Holder.Status != pigging.StateFailure {
		t.Errorf("LogException did not write the failure through the Locker at once: %+v", st.Holder)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if st, _ := mem.Inspect(context.Background()); st.State != pigging.LockStale || st.Holder.Error != "warehouse down" {
		t.Fatalf("after a failed run: %+v, want stale with the error", st)
	}
	third, _ := pigging.New(logPath, "", opts...)
	if _, err := third.Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), "failed: warehouse down") {
		t.Fatalf("Start after a failed run = %v, want ErrStaleLock", err)
	}
	if _, err := mem.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Lost mid-run.
	err = pigging.Run(context.Background(), logPath, "", func(ctx context.Context, tr *pigging.Tracker) error {
		mem.loseIt()
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(10 * time.Second):
			return errors.New("the run's ctx was not cancelled when the lock was lost")
		}
	}, opts...)
	if !errors.Is(err, pigging.ErrLockLost) {
		t.Fatalf("Run whose lock was lost = %v, want ErrLockLost", err)
	}
	texts := strings.Join(proctest.RecordTexts(t, logPath), "\n")
	if !strings.Contains(texts, "ERROR: Lost the lock memory job lock during the run") {
		t.Errorf("log:\n%s", texts)
	}
}
