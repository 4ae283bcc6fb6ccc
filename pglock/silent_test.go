package pglock_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pigging-go/pigging/pglock"
	"github.com/pigging-go/pigging/pigging"
)

// silencer is a TCP proxy to the test server that can go silent for the
// connections it has, as a network that drops everything would: what they
// send is swallowed, nothing comes back, and the server keeps their
// sessions. Connections made later pass.
type silencer struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	pairs  []*pair
	wg     sync.WaitGroup
}

type pair struct {
	client, server net.Conn
	silent         chan struct{} // closed when the pair goes silent
	once           sync.Once     // closes silent
	closeOnce      sync.Once     // closes both ends
}

func newSilencer(t *testing.T, target string) *silencer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silencer{ln: ln, target: target}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *silencer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", s.target)
		if err != nil {
			c.Close()
			continue
		}
		p := &pair{client: c, server: u, silent: make(chan struct{})}
		s.mu.Lock()
		s.pairs = append(s.pairs, p)
		s.mu.Unlock()
		s.wg.Add(2)
		go s.pipe(p, c, u)
		go s.pipe(p, u, c)
	}
}

// pipe copies src to dst until the pair goes silent; then it swallows src.
func (s *silencer) pipe(p *pair, src, dst net.Conn) {
	defer s.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.silent:
			if err != nil {
				return
			}
			continue
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				p.closeOnce.Do(func() { p.client.Close(); p.server.Close() })
			}
			return
		}
	}
}

// silence makes every connection the proxy has now go silent.
func (s *silencer) silence() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pairs {
		p.once.Do(func() { close(p.silent) })
	}
}

func (s *silencer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, p := range s.pairs {
		p.client.Close()
		p.server.Close()
	}
	s.mu.Unlock()
	// pgx closes a connection whose query timed out in the background,
	// within 15 s; closing the silent pairs here ends that at once.
	s.wg.Wait()
}

// A server that stops answering (a network that drops everything, while
// the server keeps the session) is given up on within the check interval
// plus the check timeout: the run's ctx is cancelled with ErrLockLost, an
// error that names WithCheckTimeout, and the run ends failed. The server
// still holds the lock for the silent session; the run's Stop ends that
// session, so the row says failed and the next run is refused as stale,
// not held forever.
func TestServerStopsAnswering(t *testing.T) {
	table := newTable(t)
	var u *url.URL
	dsnWith(t, func(x *url.URL) { u = x })
	proxy := newSilencer(t, u.Host)
	proxied := dsnWith(t, func(x *url.URL) { x.Host = proxy.ln.Addr().String() })
	const interval, timeout = 300 * time.Millisecond, time.Second
	l, err := pglock.New(proxied, "silent", pglock.WithTable(table), pglock.WithCheckInterval(interval), pglock.WithCheckTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "job.log")
	lr := startLostRun(t, l, table, "silent", logPath)
	silenced := time.Now()
	proxy.silence()
	lr.wait(t)
	t.Logf("Run returned %v after the network went silent", time.Since(silenced).Round(time.Millisecond))
	took := lr.noticed.Sub(silenced)
	t.Logf("the run's ctx was cancelled %v after the network went silent (interval %v, timeout %v)", took.Round(time.Millisecond), interval, timeout)
	if took < timeout-50*time.Millisecond || took > interval+timeout+time.Second {
		t.Errorf("detection took %v, want between the timeout %v and interval+timeout %v (+1 s)", took, timeout, interval+timeout)
	}
	if !errors.Is(lr.err, pigging.ErrLockLost) {
		t.Fatalf("Run = %v, want ErrLockLost", lr.err)
	}
	// The error, the log and the row say which bound ran out.
	var te *pglock.TimeoutError
	if !errors.As(lr.err, &te) || te.Option != "WithCheckTimeout" || te.Limit != timeout {
		t.Errorf("Run = %v, want it to wrap the *TimeoutError of WithCheckTimeout (%v)", lr.err, timeout)
	}
	bound := "no answer within " + timeout.String() + " (WithCheckTimeout)"
	if log := readLog(t, logPath); !strings.Contains(log, "ERROR: Lost the lock") || !strings.Contains(log, bound) {
		t.Errorf("the log does not say %q:\n%s", bound, log)
	}
	r := readRow(t, table, "silent")
	if r == nil || r.Status != pigging.StateError || !strings.Contains(r.Error, bound) {
		t.Fatalf("row after the run = %+v, want failed, saying %q", r, bound)
	}
	direct := newLocker(t, table, "silent")
	if st := inspect(t, direct); st.State != pigging.LockStale {
		t.Fatalf("Inspect after the run = %v, want stale: the silent session still holds the lock", st.State)
	}
	tr, _ := pigging.New(logPath, "", trackerOpts(direct, "silent")...)
	if _, err := tr.Start(context.Background()); !errors.Is(err, pigging.ErrStaleLock) {
		t.Fatalf("next Start = %v, want ErrStaleLock", err)
	}
}
