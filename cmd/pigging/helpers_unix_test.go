//go:build unix

package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// proc is pigging running as a process of its own: the test binary started
// again with asPigging set.
type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// startPigging starts pigging with args in dir, with no trace exporter and
// env added. At cleanup a process still running is killed.
func startPigging(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	return startPiggingTo(t, dir, env, nil, args...)
}

// startPiggingTo is startPigging with pigging's stdout going to stdout
// instead of p.stdout, unless it is nil.
func startPiggingTo(t *testing.T, dir string, env []string, stdout io.Writer, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), asPigging+"=1", "OTEL_TRACES_EXPORTER=none",
		// Under the race detector a process sleeps 1 s at exit unless told not to.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.Env = append(cmd.Env, env...)
	p := &proc{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits at most d for pigging to exit and returns its exit status; a
// process still running after d is killed and fails the test.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("pigging did not exit within %s\nstdout: %s\nstderr: %s", d, p.stdout.String(), p.stderr.String())
	}
	if p.cmd.ProcessState == nil {
		t.Fatalf("pigging: %v", p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

// logRecord is one line of a log file.
type logRecord struct {
	level string
	text  string // the message and its key=values
}

var logLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| (DEBUG|INFO|WARN|ERROR): (.*)$`)

// readLog returns the records of the log file at path, failing the test on
// a line that is not a record.
func readLog(t *testing.T, path string) []logRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []logRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		m := logLine.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("%s: not a record: %q", path, abbrev(sc.Text()))
		}
		recs = append(recs, logRecord{level: m[1], text: m[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// outputLine is one record the pump made of a line of the command's output.
type outputLine struct {
	level, stream, msg string
	partial            bool
}

// outputLines returns the records of the command's output among recs, in
// order, with the message as the log escaped it.
func outputLines(recs []logRecord) []outputLine {
	var out []outputLine
	for _, r := range recs {
		var o outputLine
		text, partial := strings.CutSuffix(r.text, " partial=true")
		o.partial = partial
		for _, s := range []string{"stdout", "stderr"} {
			if msg, ok := strings.CutSuffix(text, " stream="+s); ok {
				o.level, o.stream, o.msg = r.level, s, msg
			}
		}
		if o.stream != "" {
			out = append(out, o)
		}
	}
	return out
}

// waitForLine waits until the log at path has a record whose text is
// want, failing the test after d.
func waitForLine(t *testing.T, path, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(path); err == nil && bytes.Contains(data, []byte(": "+want+"\n")) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	data, _ := os.ReadFile(path)
	t.Fatalf("no record %q in %s after %s:\n%s", want, path, d, data)
}

// readLock returns the lock file at path, failing the test when it is
// missing.
func readLock(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("lock file: %v", err)
	}
	return string(data)
}

// spanAttr returns the attribute key of the span named name.
func spanAttr(spans []sdktrace.ReadOnlySpan, name string, key attribute.Key) (attribute.Value, bool) {
	for _, s := range spans {
		if s.Name() != name {
			continue
		}
		for _, a := range s.Attributes() {
			if a.Key == key {
				return a.Value, true
			}
		}
	}
	return attribute.Value{}, false
}

// stopStatus returns cicd.pipeline.result of the stop event of the span named
// name, or "" when there is none.
func stopStatus(spans []sdktrace.ReadOnlySpan, name string) string {
	for _, s := range spans {
		if s.Name() != name {
			continue
		}
		for _, e := range s.Events() {
			if e.Name != "stop" {
				continue
			}
			for _, a := range e.Attributes {
				if a.Key == "cicd.pipeline.result" {
					return a.Value.AsString()
				}
			}
		}
	}
	return ""
}
