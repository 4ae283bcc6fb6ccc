package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds shared by the services the tests start (Jaeger, Prometheus),
// generous for a loaded 2-core machine and all finite. How long each may
// take to be ready is its own.
const (
	serviceStopTimeout   = 15 * time.Second // SIGTERM to exit, then SIGKILL
	serviceStartAttempts = 3                // a free port can be taken between probe and bind
	pollInterval         = 100 * time.Millisecond
)

// tailLines is how many of a service's last output lines a failure shows.
const tailLines = 40

// errExitedEarly is in the error of a service that exited before it was
// ready.
var errExitedEarly = errors.New("exited before it was ready")

// service is a binary the tests started in a process group of its own, with
// the end of its output kept for failure messages.
type service struct {
	name string // in messages: Jaeger, Prometheus
	out  *tailBuffer
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done is closed
}

// startService starts cmd in a process group of its own, registers its stop
// with t.Cleanup, waits until readyURL answers 200 and returns how long that
// took. The end of cmd's stdout and stderr is kept for tail; they also go to
// any writer already set on cmd. It gives up when the process exits (the
// error is errExitedEarly) or readyTimeout has passed; either error ends with
// the tail of the output.
func startService(t *testing.T, name string, cmd *exec.Cmd, readyURL string, readyTimeout time.Duration) (*service, time.Duration, error) {
	t.Helper()
	s := &service{name: name, out: newTailBuffer(64 << 10), done: make(chan struct{})}
	cmd.Stdout = alsoTo(s.out, cmd.Stdout)
	cmd.Stderr = alsoTo(s.out, cmd.Stderr)
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("exec %s: %w", cmd.Path, err)
	}
	s.cmd = cmd
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.stop)
	took, err := s.waitReady(readyURL, readyTimeout)
	if err != nil {
		return nil, 0, err
	}
	return s, took, nil
}

// alsoTo is out, and w too when there is one.
func alsoTo(out *tailBuffer, w io.Writer) io.Writer {
	if w == nil {
		return out
	}
	return io.MultiWriter(out, w)
}

// waitReady polls url until it answers 200 and returns how long that took.
func (s *service) waitReady(url string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		select {
		case <-s.done:
			return 0, fmt.Errorf("%s %w (%v)\n%s", s.name, errExitedEarly, s.err, s.tail())
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not ready: no 200 from %s within %s; last: %s\n%s",
				s.name, url, timeout, last, s.tail())
		}
	}
}

// startRetrying returns what launch started. When the service exited early
// because an address was in use, a port picked free having been taken
// meanwhile, it calls launch again, up to serviceStartAttempts times in all;
// on any other error, or the last, it fails the test.
func startRetrying[T any](t *testing.T, name string, launch func(attempt int) (T, error)) T {
	t.Helper()
	var lastErr error
	for attempt := 1; attempt <= serviceStartAttempts; attempt++ {
		v, err := launch(attempt)
		if err == nil {
			return v
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) || !strings.Contains(err.Error(), "address already in use") {
			break // not a port race: retrying will not help
		}
		t.Logf("%s start attempt %d failed, retrying with new ports: %v", name, attempt, err)
	}
	t.Fatalf("starting %s: %v", name, lastErr)
	var zero T
	return zero
}

// stop ends the whole process group: SIGTERM, then SIGKILL after a bound.
func (s *service) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	signalGroup(s.cmd, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(serviceStopTimeout):
		signalGroup(s.cmd, syscall.SIGKILL)
		<-s.done
	}
}

// tail returns the end of the service's output, for failure messages.
func (s *service) tail() string {
	lines := strings.SplitAfter(s.out.String(), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return "--- " + s.name + " output (last lines) ---\n" + strings.Join(lines, "") + "--- end of " + s.name + " output ---"
}

// buildTool builds pkg of the module in dir, relative to the repository
// root, with the given go build flags as binDir/<last element of pkg>, once
// per test binary, and returns its path. name is what is built, in messages.
func buildTool(t *testing.T, name, dir, pkg string, flags ...string) string {
	t.Helper()
	b := toolBuildOf(pkg)
	b.once.Do(func() {
		bin := filepath.Join(binDir, path.Base(pkg))
		start := time.Now()
		ctx, cancel := buildContext(t)
		defer cancel()
		args := append([]string{"build", "-C", filepath.Join(repoRoot(t), dir)}, flags...)
		cmd := exec.CommandContext(ctx, goTool(), append(args, "-o", bin, pkg)...)
		cmd.WaitDelay = 10 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			if ctx.Err() != nil {
				ahead := append([]string{"go", "build", "-C", dir}, flags...)
				ahead = append(ahead, "-o", "/dev/null", pkg)
				err = fmt.Errorf("%w: building %s did not finish before the test deadline; "+
					"build it ahead (%s) or raise go test -timeout", err, name, strings.Join(ahead, " "))
			}
			b.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
			return
		}
		t.Logf("built %s in %s", name, time.Since(start).Round(time.Millisecond))
		b.bin = bin
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

// toolBuild is the one build of a package in a test binary.
type toolBuild struct {
	once sync.Once
	bin  string
	err  error
}

var toolBuilds struct {
	mu    sync.Mutex
	byPkg map[string]*toolBuild
}

// toolBuildOf returns the build of pkg, new the first time.
func toolBuildOf(pkg string) *toolBuild {
	toolBuilds.mu.Lock()
	defer toolBuilds.mu.Unlock()
	if toolBuilds.byPkg == nil {
		toolBuilds.byPkg = map[string]*toolBuild{}
	}
	b := toolBuilds.byPkg[pkg]
	if b == nil {
		b = &toolBuild{}
		toolBuilds.byPkg[pkg] = b
	}
	return b
}

// buildContext bounds a build by the test binary's deadline, leaving time
// for the rest of the test to report.
func buildContext(t *testing.T) (context.Context, context.CancelFunc) {
	if d, ok := t.Deadline(); ok {
		return context.WithDeadline(context.Background(), d.Add(-2*time.Minute))
	}
	return context.WithCancel(context.Background())
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	ports := make([]string, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

// closedPort returns host:port on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + freePorts(t, 1)[0]
}

// tailBuffer keeps the last max bytes written to it. Safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, starting at a line boundary when cut.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := string(b.buf)
	if len(b.buf) == b.max {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}
