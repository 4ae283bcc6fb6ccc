//go:build unix

package proctest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Child is a running child process.
type Child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
	err  error         // cmd.Wait's result, set before done is closed

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	lines  chan string // stdout lines, when started with StartLines
}

// Start starts the test binary again, running no tests, as the child
// scenario (ChildEnv=scenario) with env added ("KEY=value"). Its stdout and
// stderr are kept for Output and Stderr. A child that cannot be started
// fails the test at once (t.Fatalf). At cleanup a child still running is
// killed, and the test fails (t.Errorf) if it is not reaped within 10 s.
func Start(t testing.TB, scenario string, env ...string) *Child {
	t.Helper()
	return start(t, scenario, false, env...)
}

// StartLines is Start with each stdout line also sent to WaitLine.
func StartLines(t testing.TB, scenario string, env ...string) *Child {
	t.Helper()
	return start(t, scenario, true, env...)
}

func start(t testing.TB, scenario string, lines bool, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), ChildEnv+"="+scenario)
	cmd.Env = append(cmd.Env, env...)
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		// Under the race detector a process sleeps 1 s at exit unless told
		// not to; hundreds of children would spend minutes on it.
		cmd.Env = append(cmd.Env, strings.TrimSpace("GORACE="+g+" atexit_sleep_ms=0"))
	}
	c := &Child{cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{mu: &c.mu, w: &c.stderr}
	var pipe io.ReadCloser
	if lines {
		var err error
		pipe, err = cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.lines = make(chan string, 1<<16)
	} else {
		cmd.Stdout = &lockedWriter{mu: &c.mu, w: &c.stdout}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting child %s: %v", scenario, err)
	}
	var readDone chan struct{}
	if lines {
		readDone = make(chan struct{})
		go func() {
			defer close(readDone)
			defer close(c.lines)
			sc := bufio.NewScanner(pipe)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				line := sc.Text()
				c.mu.Lock()
				c.stdout.WriteString(line)
				c.stdout.WriteByte('\n')
				c.mu.Unlock()
				select {
				case c.lines <- line:
				default: // nobody is reading lines any more; Output still has them
				}
			}
		}()
	}
	go func() {
		if readDone != nil {
			<-readDone // StdoutPipe must be drained before Wait
		}
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
			return
		default:
		}
		_ = cmd.Process.Kill()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Errorf("child %s pid %d not reaped 10 s after SIGKILL", scenario, cmd.Process.Pid)
		}
	})
	return c
}

// Exited reports, without waiting, whether the child has exited and been
// reaped.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Signal sends sig to the child and returns the error of doing so; the test
// goes on either way.
func (c *Child) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// ProcessState returns how the child ended. Call it only after Wait.
func (c *Child) ProcessState() *os.ProcessState { return c.cmd.ProcessState }

// Output returns what the child wrote to stdout so far.
func (c *Child) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stdout.String()
}

// Stderr returns what the child wrote to stderr so far.
func (c *Child) Stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// Wait waits at most d for the child to exit and returns its exit code; a
// child killed by a signal gives -1. A child still running after d is killed
// and the test fails at once (t.Fatalf) with its stdout and stderr, as it does
// when the child could not be waited for.
func (c *Child) Wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Fatalf("child pid %d did not exit within %v; stdout:\n%s\nstderr:\n%s", c.Pid(), d, c.Output(), c.Stderr())
	}
	var ee *exec.ExitError
	if c.err != nil && !errors.As(c.err, &ee) {
		t.Fatalf("child pid %d: %v", c.Pid(), c.err)
	}
	return c.cmd.ProcessState.ExitCode()
}

// Signaled reports the signal that ended the child, and false if no signal
// did. Call it only after Wait.
func (c *Child) Signaled() (syscall.Signal, bool) {
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

// WaitLine waits at most d for a stdout line that matches pred and returns
// it. The child must have been started with StartLines. If the child closes
// stdout first, or no line matches within d, the test fails at once
// (t.Fatalf) with the child's stdout and stderr.
func (c *Child) WaitLine(t testing.TB, d time.Duration, pred func(string) bool) string {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("child pid %d closed stdout before the expected line; stdout:\n%s\nstderr:\n%s", c.Pid(), c.Output(), c.Stderr())
			}
			if pred(line) {
				return line
			}
		case <-timer.C:
			t.Fatalf("child pid %d: no expected line within %v; stdout:\n%s\nstderr:\n%s", c.Pid(), d, c.Output(), c.Stderr())
		}
	}
}

// lockedWriter serializes writes to w with mu, which also guards reads of w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
