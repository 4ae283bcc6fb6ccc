//go:build unix

package reliability_test

// Helpers for tests that run real child processes: the test binary started
// again with childEnv naming a scenario (see main_test.go). Every child is
// killed and reaped in t.Cleanup, and every wait has a deadline.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// procChild is a running child process.
type procChild struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
	err  error         // cmd.Wait's result, set before done is closed

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	lines  chan string // stdout lines, when started with startProcLines
}

// startProc starts the test binary as the child scenario with env added
// ("KEY=value"). Its stdout and stderr are kept for Output and Stderr.
func startProc(t testing.TB, scenario string, env ...string) *procChild {
	t.Helper()
	return startProcOpt(t, scenario, false, env...)
}

// startProcLines is startProc with each stdout line also sent on Lines.
func startProcLines(t testing.TB, scenario string, env ...string) *procChild {
	t.Helper()
	return startProcOpt(t, scenario, true, env...)
}

func startProcOpt(t testing.TB, scenario string, lines bool, env ...string) *procChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+scenario)
	cmd.Env = append(cmd.Env, env...)
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		// Under the race detector a process sleeps 1 s at exit unless told
		// not to; hundreds of children would spend minutes on it.
		cmd.Env = append(cmd.Env, strings.TrimSpace("GORACE="+g+" atexit_sleep_ms=0"))
	}
	c := &procChild{cmd: cmd, done: make(chan struct{})}
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

// Pid returns the child's process id.
func (c *procChild) Pid() int { return c.cmd.Process.Pid }

// Output returns what the child wrote to stdout so far.
func (c *procChild) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stdout.String()
}

// Stderr returns what the child wrote to stderr so far.
func (c *procChild) Stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// Wait waits at most d for the child to exit and returns its exit code; a
// child killed by a signal gives -1.
func (c *procChild) Wait(t testing.TB, d time.Duration) int {
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

// Signaled reports the signal that ended the child, after Wait.
func (c *procChild) Signaled() (syscall.Signal, bool) {
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

// WaitLine waits at most d for a stdout line that matches pred and returns
// it. The child must have been started with startProcLines.
func (c *procChild) WaitLine(t testing.TB, d time.Duration, pred func(string) bool) string {
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

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// childDie reports a child's own failure (not the outcome under test) and
// exits with 99.
func childDie(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "child %d: "+format+"\n", append([]any{os.Getpid()}, args...)...)
	os.Exit(99)
}

// childEnvInt reads an integer parameter of a child.
func childEnvInt(name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		childDie("%s=%q: %v", name, s, err)
	}
	return n
}

// lineRE matches one well-formed log record line.
var lineRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| (DEBUG|INFO|WARN|ERROR): `)

// readLogLines reads a log file and checks its shape: valid UTF-8, no CR,
// every line a record head or a tab-continued stack line, no control
// character but the tabs that start a continuation. allowTorn lets the last
// line lack its newline (a record being written when the writer died). It
// returns the lines without their newlines.
func readLogLines(t testing.TB, path string, allowTorn bool) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading log: %v", err)
	}
	return checkLogText(t, path, data, allowTorn)
}

func checkLogText(t testing.TB, path string, data []byte, allowTorn bool) []string {
	t.Helper()
	if !utf8.Valid(data) {
		t.Errorf("%s is not valid UTF-8", filepath.Base(path))
	}
	if len(data) == 0 {
		return nil
	}
	text := string(data)
	torn := !strings.HasSuffix(text, "\n")
	if torn && !allowTorn {
		t.Errorf("%s does not end with a newline: last bytes %q", filepath.Base(path), tail(text, 80))
	}
	text = strings.TrimSuffix(text, "\n")
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if torn && i == len(lines)-1 {
			continue
		}
		if err := checkLogLine(line); err != nil {
			t.Errorf("%s line %d: %v: %q", filepath.Base(path), i+1, err, head(line, 200))
		}
	}
	return lines
}

func checkLogLine(line string) error {
	body := line
	if strings.HasPrefix(line, "\t") {
		body = strings.TrimLeft(line, "\t")
	} else if !lineRE.MatchString(line) {
		return fmt.Errorf("not a record")
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("control byte %#x at %d", c, i)
		}
		if c == '\t' && !strings.HasPrefix(line, "\t") {
			return fmt.Errorf("tab in a record line")
		}
	}
	for _, r := range body {
		if r >= 0x80 && r <= 0x9f || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("line-breaking rune %U", r)
		}
	}
	return nil
}

func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
