//go:build unix

package pglock_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

func init() { childScenarios["untillost"] = childUntilLost }

// childUntilLost runs a job that prints "holding token=N" and waits for
// its ctx to be cancelled; it prints Run's error and exits 0 when that is
// ErrLockLost.
func childUntilLost() int {
	l := childLocker()
	err := pigging.Run(context.Background(), os.Getenv("PGLOCK_LOG"), "", func(ctx context.Context, _ *pigging.Tracker) error {
		fmt.Printf("holding token=%d\n", l.Token())
		select {
		case <-ctx.Done():
			fmt.Println("lost")
			return context.Cause(ctx)
		case <-time.After(2 * time.Minute):
			return errors.New("the run's ctx was not cancelled")
		}
	}, trackerOpts(l, l.Job())...)
	fmt.Println(err)
	if !errors.Is(err, pigging.ErrLockLost) {
		return exitOther
	}
	return exitRan
}

// A network partition behind a middlebox that keeps both sockets open (a
// proxy that stops forwarding): the server sees the holder's session as
// alive, TCP keepalives and all. The holder, a child process, notices and
// exits; the server ends its silent session within DefaultSessionTimeout
// of the stall, so another host finds the lock stale (not held) within
// that bound, clears it, and runs.
func TestPartitionStuckProxy(t *testing.T) {
	table := newTable(t)
	var u *url.URL
	dsnWith(t, func(x *url.URL) { u = x })
	proxy := newStallProxy(t, u.Host)
	dir := t.TempDir()
	holder := proctest.StartLines(t, "untillost", childEnv(table, "partition", filepath.Join(dir, "a.log"),
		"PGLOCK_HOST=host-a", "PGLOCK_DSN="+dsnWith(t, func(x *url.URL) { x.Host = proxy.addr() }))...)
	holder.WaitLine(t, time.Minute, isHolding)
	other := newLocker(t, table, "partition", pglock.WithHost("host-b"))
	if st := inspect(t, other); st.State != pigging.LockRunning {
		t.Fatalf("Inspect before the stall = %v, want running", st.State)
	}

	proxy.stall()
	stalled := time.Now()
	time.Sleep(time.Second)
	if st := inspect(t, other); st.State != pigging.LockRunning {
		t.Fatalf("Inspect 1 s after the stall = %v, want running: the proxy did not keep the session", st.State)
	}
	// The bound, with room for a loaded machine.
	const margin = 5 * time.Second
	deadline := stalled.Add(pglock.DefaultSessionTimeout + margin + 10*time.Second)
	var freed time.Duration
	for {
		st := inspect(t, other)
		if st.State != pigging.LockRunning {
			freed = time.Since(stalled)
			if st.State != pigging.LockStale || st.Holder == nil || st.Holder.Host != "host-a" {
				t.Fatalf("Inspect after the session ended = %v %+v, want stale, left by host-a", st.State, st.Holder)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock is still held %v after the stall; the documented bound is %v", time.Since(stalled).Round(time.Millisecond), pglock.DefaultSessionTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("another host found the lock stale %v after the stall (bound %v)", freed.Round(time.Millisecond), pglock.DefaultSessionTimeout)
	if freed > pglock.DefaultSessionTimeout+margin {
		t.Errorf("the lock was let go of %v after the stall, past the bound %v (+%v)", freed.Round(time.Millisecond), pglock.DefaultSessionTimeout, margin)
	}
	if code := holder.Wait(t, time.Minute); code != exitRan || !strings.Contains(holder.Output(), "lost") {
		t.Errorf("holder: exit %d:\n%s", code, childOutput(holder))
	}
	if st, err := other.Clear(context.Background()); err != nil || st.State != pigging.LockStale {
		t.Fatalf("Clear = %+v, %v; want the stale row cleared", st, err)
	}
	c := proctest.Start(t, "try", childEnv(table, "partition", filepath.Join(dir, "b.log"), "PGLOCK_HOST=host-b")...)
	if code := c.Wait(t, time.Minute); code != exitRan {
		t.Fatalf("host-b after Clear: exit %d:\n%s", code, childOutput(c))
	}
}
