//go:build unix

package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pigging-go/pigging/internal/logfmt"
)

func TestRunExitStatus(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		argv     []string
		code     int
		status   string // cicd.pipeline.result on the stop event
		lockErr  string // the error kept in the lock file; "" when the lock is removed
		lastText string // the text of the record before TOTAL SCRIPT TIME
	}{
		{"success", []string{"sh", "-c", "echo done"}, 0, "success", "", "Command exited exit_code=0"},
		{"exit status", []string{"sh", "-c", "echo failing >&2; exit 3"}, 3, "failure", `"error":"exit status 3"`, "exit status 3"},
		{"exit 255", []string{"sh", "-c", "exit 255"}, 255, "failure", `"error":"exit status 255"`, "exit status 255"},
		{"killed by a signal", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9, "failure", `"error":"killed by SIGKILL"`, "killed by SIGKILL"},
		{"terminated by a signal", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15, "failure", `"error":"killed by SIGTERM"`, "killed by SIGTERM"},
		{"not found", []string{"no-such-command-pigging-test"}, 127, "failure", `executable file not found`, ""},
		{"not executable", []string{notExec}, 126, "failure", `permission denied`, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := fmt.Sprintf("job%d", i)
			log, lock := files(dir, job)
			args := append([]string{"run", "--name", job, "--log", log, "--lock", lock, "--"}, tt.argv...)
			r := runInProcess(t, args...)
			if r.code != tt.code {
				t.Fatalf("exit status %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			if got := stopStatus(r.spans, "RUN "+job); got != tt.status {
				t.Errorf("cicd.pipeline.result %q, want %q", got, tt.status)
			}
			if got, ok := spanAttr(r.spans, "RUN "+job, "process.exit.code"); ok {
				t.Errorf("process.exit.code %v on the run span: it belongs to the command's span", got.String())
			}
			if tt.code < exitNoExec {
				if got, ok := spanAttr(r.spans, tt.argv[0], "process.exit.code"); !ok || got.AsInt64() != int64(tt.code) {
					t.Errorf("process.exit.code on the command's span is %v (%v), want %d", got.String(), ok, tt.code)
				}
			}
			recs := readLog(t, log)
			if n := len(recs); n < 2 || !strings.HasPrefix(recs[n-1].text, "TOTAL SCRIPT TIME: ") {
				t.Fatalf("log does not end with TOTAL SCRIPT TIME: %v", recs)
			}
			// The last record before TOTAL SCRIPT TIME says pigging's exit
			// status and who decided it; the outcome comes before it.
			source := "command"
			if tt.lastText == "" { // not started: pigging's own 126 or 127
				source = "pigging"
			}
			if got, want := recs[len(recs)-2].text, fmt.Sprintf("exit_code=%d exit_source=%s", tt.code, source); !strings.HasSuffix(got, want) {
				t.Errorf("record before TOTAL SCRIPT TIME is %q, want it to end with %q", got, want)
			}
			if got, ok := spanAttr(r.spans, "RUN "+job, "pigging.exit.source"); !ok || got.AsString() != source {
				t.Errorf("pigging.exit.source on the run span is %q (%v), want %q", got.AsString(), ok, source)
			}
			if tt.lastText != "" && recs[len(recs)-3].text != tt.lastText {
				t.Errorf("outcome record is %q, want %q", recs[len(recs)-3].text, tt.lastText)
			}
			if tt.lockErr == "" {
				if _, err := os.Stat(lock); !os.IsNotExist(err) {
					t.Errorf("lock file after success: %v, want it removed", err)
				}
				return
			}
			content := readLock(t, lock)
			if !strings.Contains(content, `"status":"failure"`) || !strings.Contains(content, tt.lockErr) {
				t.Errorf("lock file %s, want status failed and %s", content, tt.lockErr)
			}
			// The lock kept by the failure refuses the next run with 75,
			// saying why.
			r = runInProcess(t, args...)
			if r.code != exitLocked {
				t.Errorf("next run: exit status %d, want %d", r.code, exitLocked)
			}
			if !strings.Contains(r.stderr, "previous run pid") || !strings.Contains(r.stderr, "pigging unlock --lock "+lock) {
				t.Errorf("next run's stderr %q does not say who holds the lock and what to do", r.stderr)
			}
		})
	}
}

// TestRunDefaultFiles checks that the job's name and files come from the
// command's base name, in the working directory.
func TestRunDefaultFiles(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "nightly")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho from nightly\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := startPigging(t, dir, nil, "run", "--", script)
	if code := p.wait(t, testLimit); code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", code, p.stderr.String())
	}
	recs := readLog(t, filepath.Join(dir, "nightly.log"))
	if !strings.HasPrefix(recs[0].text, "Starting logging job=nightly ") {
		t.Errorf("first record %q, want the job named nightly", recs[0].text)
	}
	if got := outputLines(recs); len(got) != 1 || got[0].msg != "from nightly" {
		t.Errorf("output records %v", got)
	}
	if p.stdout.String() != "from nightly\n" {
		t.Errorf("stdout %q, want only the command's output", p.stdout.String())
	}
	if !strings.Contains(p.stderr.String(), "TOTAL SCRIPT TIME: ") {
		t.Errorf("stderr %q, want TOTAL SCRIPT TIME", p.stderr.String())
	}
}

// TestRunTraceparent checks that the command sees the trace context of its
// own span, a child of the run span, not the one pigging inherited.
func TestRunTraceparent(t *testing.T) {
	t.Setenv("TRACEPARENT", "00-11111111111111111111111111111111-2222222222222222-01")
	dir := t.TempDir()
	log, lock := files(dir, "tp")
	r := runInProcess(t, "run", "--name", "tp", "--log", log, "--lock", lock, "--",
		"sh", "-c", `echo "$TRACEPARENT"; env | grep -ci '^traceparent='`)
	if r.code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
	}
	var run, sh sdktrace.ReadOnlySpan
	for _, s := range r.spans {
		switch s.Name() {
		case "RUN tp":
			run = s
		case "sh":
			sh = s
		}
	}
	if run == nil || sh == nil {
		t.Fatalf("no run span or command span among %d spans", len(r.spans))
	}
	if sh.Parent().SpanID() != run.SpanContext().SpanID() {
		t.Errorf("the command's span is not a child of the run span")
	}
	sc := sh.SpanContext()
	want := fmt.Sprintf("00-%s-%s-01\n1\n", sc.TraceID(), sc.SpanID())
	if r.stdout != want {
		t.Errorf("the command saw TRACEPARENT %q, want %q (its own span, once)", r.stdout, want)
	}
}

// TestRunJoinsCallerTrace checks that a TRACEPARENT given to pigging makes
// the run a child of the caller's span, and the command a child of the run,
// with the caller's baggage.
func TestRunJoinsCallerTrace(t *testing.T) {
	dir := t.TempDir()
	const traceID, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	p := startPigging(t, dir, []string{"TRACEPARENT=00-" + traceID + "-" + parent + "-01", "BAGGAGE=tenant=acme"},
		"run", "--name", "joined", "--", "sh", "-c", `echo "$TRACEPARENT"; echo "$BAGGAGE"`)
	if code := p.wait(t, testLimit); code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", code, p.stderr.String())
	}
	lines := strings.Split(p.stdout.String(), "\n")
	if m := regexp.MustCompile(`^00-` + traceID + `-([0-9a-f]{16})-01$`).FindStringSubmatch(lines[0]); m == nil || m[1] == parent {
		t.Errorf("the command saw TRACEPARENT %q, want the caller's trace with the run's span", lines[0])
	}
	if lines[1] != "tenant=acme" {
		t.Errorf("the command saw BAGGAGE %q, want tenant=acme", lines[1])
	}
	recs := readLog(t, filepath.Join(dir, "joined.log"))
	if !strings.Contains(recs[0].text, "trace_id="+traceID) {
		t.Errorf("first record %q, want the caller's trace id", recs[0].text)
	}
}

// TestRunInterleaving checks that stdout and stderr lines keep the order
// they were written in, with their levels and streams.
func TestRunInterleaving(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "mix")
	r := runInProcess(t, "run", "--log", log, "--lock", lock, "--", "sh", "-c",
		`for i in 1 2 3 4; do echo out$i; sleep 0.2; echo err$i >&2; sleep 0.2; done`)
	if r.code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
	}
	var got, want []outputLine
	for i := 1; i <= 4; i++ {
		want = append(want,
			outputLine{level: "INFO", stream: "stdout", msg: fmt.Sprint("out", i)},
			outputLine{level: "WARN", stream: "stderr", msg: fmt.Sprint("err", i)})
	}
	got = outputLines(readLog(t, log))
	if !slices.Equal(got, want) {
		t.Errorf("output records\n%v\nwant\n%v", got, want)
	}
	if r.stdout != "out1\nout2\nout3\nout4\n" {
		t.Errorf("stdout passed through as %q", r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "err1\nerr2\nerr3\nerr4\n") {
		t.Errorf("stderr passed through as %q", r.stderr)
	}
}

// TestRunBurst checks that 10 MB printed as fast as the command can loses
// nothing, in the log and in the pass-through.
func TestRunBurst(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "burst")
	const lines = 100_000 // of 100 bytes each, newline included
	start := time.Now()
	r := runInProcess(t, "run", "--log", log, "--lock", lock, "--", "awk",
		fmt.Sprintf(`BEGIN { for (i = 0; i < %d; i++) printf "line %%07d %%s\n", i, "%s" }`, lines, strings.Repeat("x", 86)))
	if r.code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
	}
	if len(r.stdout) != lines*100 {
		t.Errorf("stdout passed through %d bytes, want %d", len(r.stdout), lines*100)
	}
	got := outputLines(readLog(t, log))
	if len(got) != lines {
		t.Fatalf("%d output records, want %d", len(got), lines)
	}
	for i, o := range got {
		want := fmt.Sprintf("line %07d %s", i, strings.Repeat("x", 86))
		if o.msg != want || o.stream != "stdout" || o.partial {
			t.Fatalf("record %d is %+v, want %q", i, o, want)
		}
	}
	t.Logf("10 MB in %d lines through pigging run in %s", lines, time.Since(start))
}

// TestRunLongLine checks that a 1 MiB line is split into 64 KiB records
// that join back into it.
func TestRunLongLine(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "long")
	r := runInProcess(t, "run", "--log", log, "--lock", lock, "--", "awk",
		`BEGIN { for (i = 0; i < 1048576; i++) printf "%c", 97 + i % 26; printf "\nafter\n" }`)
	if r.code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
	}
	var line strings.Builder
	for i := range 1 << 20 {
		line.WriteByte(byte('a' + i%26))
	}
	if r.stdout != line.String()+"\nafter\n" {
		t.Errorf("stdout passed through %d bytes, want %d", len(r.stdout), line.Len()+7)
	}
	got := outputLines(readLog(t, log))
	if len(got) != 17 {
		t.Fatalf("%d output records, want 16 pieces of the line and one more", len(got))
	}
	var joined strings.Builder
	for i, o := range got[:16] {
		if len(o.msg) != maxLine || o.partial != (i < 15) {
			t.Errorf("piece %d: %d bytes, partial=%v", i, len(o.msg), o.partial)
		}
		joined.WriteString(o.msg)
	}
	if joined.String() != line.String() {
		t.Error("the pieces do not join back into the line")
	}
	if got[16].msg != "after" || got[16].partial {
		t.Errorf("last record %+v, want the line after", got[16])
	}
}

// TestRunBinaryOutput checks that binary output passes through unchanged
// and reaches the log as one escaped record per line, nothing lost.
func TestRunBinaryOutput(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 256<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	for b := range 256 { // every byte value, in one line of its own
		data[b] = byte(b)
	}
	data[10] = 0
	data[256] = '\n'
	bin := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(bin, data, 0o644); err != nil {
		t.Fatal(err)
	}
	log, lock := files(dir, "bin")
	r := runInProcess(t, "run", "--log", log, "--lock", lock, "--", "cat", bin)
	if r.code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
	}
	if r.stdout != string(data) {
		t.Errorf("stdout passed through differs from the command's output")
	}
	want := strings.Split(string(data), "\n")
	got := outputLines(readLog(t, log))
	if len(got) != len(want) {
		t.Fatalf("%d output records, want %d", len(got), len(want))
	}
	for i, line := range want {
		if esc := string(logfmt.AppendText(nil, line)); got[i].msg != esc || got[i].partial {
			t.Fatalf("record %d is %q, want %q", i, abbrev(got[i].msg), abbrev(esc))
		}
	}
}

// TestRunConcurrent starts two runs of the same job at once: exactly one
// runs, the other is refused with 75 and names the holder. The command
// holds the lock until the refused run has exited.
func TestRunConcurrent(t *testing.T) {
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	var ps []*proc
	for range 2 {
		ps = append(ps, startPigging(t, dir, nil, "run", "--name", "both", "--", "sh", "-c",
			`while [ ! -e release ]; do sleep 0.02; done`))
	}
	// The first to exit must be the refused one.
	var refused, ran *proc
	select {
	case <-ps[0].done:
		refused, ran = ps[0], ps[1]
	case <-ps[1].done:
		refused, ran = ps[1], ps[0]
	case <-time.After(testLimit):
		t.Fatalf("neither run was refused within %s", testLimit)
	}
	if code := refused.wait(t, testLimit); code != exitLocked {
		t.Fatalf("first run to exit: status %d, want %d\nstderr: %s", code, exitLocked, refused.stderr.String())
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := ran.wait(t, testLimit); code != 0 {
		t.Fatalf("the run that held the lock: exit status %d\nstderr: %s", code, ran.stderr.String())
	}
	// The holder is named once it has written its details; a run refused
	// in the instant before says so.
	if !regexp.MustCompile(`both\.lock is held by (run pid \d+ on .* \(job both\) started |another run that has not written its details yet)`).MatchString(refused.stderr.String()) {
		t.Errorf("refused run's stderr %q does not name the holder", refused.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "both.lock")); !os.IsNotExist(err) {
		t.Errorf("lock file after the run that ran succeeded: %v, want it removed", err)
	}
}

// TestRunSignals sends SIGTERM, SIGINT, SIGHUP or SIGQUIT to pigging and checks that the
// command's process group gets it, that a command ignoring it is killed
// after the grace period, and that the run ends cancelled.
func TestRunSignals(t *testing.T) {
	tests := []struct {
		name   string
		sig    syscall.Signal
		grace  string
		script string
		code   int
		lines  []string // records of the command's output, in order
		killed bool     // killed after the grace period
	}{
		{
			name: "trapped SIGTERM reaches the group", sig: syscall.SIGTERM, grace: "20s",
			script: `( trap 'echo grandchild got TERM; exit 0' TERM; echo grandchild ready; while :; do sleep 0.05; done ) &
trap 'wait; echo got TERM; exit 7' TERM
echo ready
while :; do sleep 0.05; done`,
			code:  7,
			lines: []string{"grandchild got TERM", "got TERM"},
		},
		{
			name: "trapped SIGINT", sig: syscall.SIGINT, grace: "20s",
			script: `trap 'echo got INT; exit 8' INT; echo grandchild ready; echo ready; while :; do sleep 0.05; done`,
			code:   8,
			lines:  []string{"got INT"},
		},
		{
			// A closed terminal or SSH session: CMD runs in a group of its
			// own, so only pigging gets the hangup, and must pass it on.
			name: "trapped SIGHUP", sig: syscall.SIGHUP, grace: "20s",
			script: `trap 'echo got HUP; exit 9' HUP; echo grandchild ready; echo ready; while :; do sleep 0.05; done`,
			code:   9,
			lines:  []string{"got HUP"},
		},
		{
			name: "trapped SIGQUIT", sig: syscall.SIGQUIT, grace: "20s",
			script: `trap 'echo got QUIT; exit 10' QUIT; echo grandchild ready; echo ready; while :; do sleep 0.05; done`,
			code:   10,
			lines:  []string{"got QUIT"},
		},
		{
			name: "ignored SIGTERM", sig: syscall.SIGTERM, grace: "300ms",
			script: `trap '' TERM; echo grandchild ready; echo ready; while :; do sleep 0.05; done`,
			code:   128 + 9,
			killed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log, lock := files(dir, "sig")
			p := startPigging(t, dir, nil, "run", "--name", "sig", "--grace", tt.grace, "--", "sh", "-c", tt.script)
			waitForLine(t, log, "ready stream=stdout", testLimit)
			waitForLine(t, log, "grandchild ready stream=stdout", testLimit)
			sent := time.Now()
			if err := p.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			code := p.wait(t, testLimit)
			elapsed := time.Since(sent)
			if code != tt.code {
				t.Fatalf("exit status %d, want %d\nstderr: %s", code, tt.code, p.stderr.String())
			}
			recs := readLog(t, log)
			var texts []string
			for _, r := range recs {
				texts = append(texts, r.text)
			}
			all := strings.Join(texts, "\n")
			name := signalName(tt.sig)
			for _, want := range []string{"Received " + name + ", forwarding it to the command", "Run cancelled: received " + name} {
				if !strings.Contains(all, want) {
					t.Errorf("log has no %q:\n%s", want, all)
				}
			}
			var lines []string
			for _, o := range outputLines(recs) {
				// The shell reports a killed sleep on stderr: only stdout counts.
				if o.stream == "stdout" && !strings.HasSuffix(o.msg, "ready") {
					lines = append(lines, o.msg)
				}
			}
			if !slices.Equal(lines, tt.lines) {
				t.Errorf("command output after the signal %q, want %q", lines, tt.lines)
			}
			killing := strings.Contains(all, "killing it")
			if killing != tt.killed {
				t.Errorf("killed after the grace period: %v, want %v", killing, tt.killed)
			}
			if tt.killed && elapsed < 300*time.Millisecond {
				t.Errorf("killed %s after the signal, before the grace period", elapsed)
			}
			if !tt.killed && elapsed > 10*time.Second {
				t.Errorf("exited %s after the signal", elapsed)
			}
			if content := readLock(t, lock); !strings.Contains(content, `"status":"cancellation"`) {
				t.Errorf("lock file %s, want status cancellation", content)
			}
		})
	}
}

// TestRunTimeout checks that --timeout stops the command, politely then by
// force, and fails the run with the timeout in its error.
func TestRunTimeout(t *testing.T) {
	tests := []struct {
		name, script, ended string
	}{
		{"stops on SIGTERM", `echo ready; sleep 30`, "killed by SIGTERM"},
		{"ignores SIGTERM", `trap '' TERM; echo ready; while :; do sleep 0.05; done`, "killed by SIGKILL"},
		{"exits on SIGTERM", `trap 'exit 5' TERM; echo ready; while :; do sleep 0.05; done`, "exit status 5"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log, lock := files(dir, fmt.Sprint("timeout", i))
			start := time.Now()
			r := runInProcess(t, "run", "--name", "timeout", "--log", log, "--lock", lock,
				"--timeout", "300ms", "--grace", "300ms", "--", "sh", "-c", tt.script)
			elapsed := time.Since(start)
			if r.code != exitTimeout {
				t.Fatalf("exit status %d, want %d\nstderr: %s", r.code, exitTimeout, r.stderr)
			}
			if elapsed < 300*time.Millisecond || elapsed > 20*time.Second {
				t.Errorf("the run took %s with --timeout 300ms", elapsed)
			}
			wantErr := "timed out after 300ms (command " + tt.ended + ")"
			if content := readLock(t, lock); !strings.Contains(content, `"status":"timeout"`) || !strings.Contains(content, `"error":"`+wantErr+`"`) {
				t.Errorf("lock file %s, want status timeout and %q", content, wantErr)
			}
			recs := readLog(t, log)
			if n := len(recs); recs[n-3].level != "ERROR" || recs[n-3].text != wantErr {
				t.Errorf("outcome record is %+v, want ERROR %q", recs[n-3], wantErr)
			}
			if n := len(recs); !strings.HasSuffix(recs[n-2].text, "exit_code=124 exit_source=pigging reason=timeout") {
				t.Errorf("record before TOTAL SCRIPT TIME is %+v, want pigging's exit status 124", recs[n-2])
			}
			if content := readLock(t, lock); !strings.Contains(content, `"exit_code":124,"exit_source":"pigging"`) {
				t.Errorf("lock file %s, want exit_code 124 from pigging", content)
			}
			if got := stopStatus(r.spans, "RUN timeout"); got != "timeout" {
				t.Errorf("cicd.pipeline.result %q, want timeout", got)
			}
		})
	}
}

// TestRunLeftoverOutput checks that a background process holding the
// command's stdout after it exited does not keep pigging waiting, and that
// the log says so, whatever the command's status.
func TestRunLeftoverOutput(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "bg")
	start := time.Now()
	r := runInProcess(t, "run", "--keep-children", "--log", log, "--lock", lock, "--", "sh", "-c", `sleep 10 & echo bye; exit 4`)
	if elapsed := time.Since(start); elapsed > 8*time.Second {
		t.Errorf("pigging waited %s for the background process", elapsed)
	}
	if r.code != 4 {
		t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(log)
	if !bytes.Contains(data, []byte("INFO: bye stream=stdout\n")) || !bytes.Contains(data, []byte("WARN: Output still open after the command exited")) {
		t.Errorf("log:\n%s", data)
	}
}

// TestRunStdoutClosed checks that a reader of pigging's stdout that goes
// away (pigging run ... | head -1) neither kills pigging nor loses a line.
func TestRunStdoutClosed(t *testing.T) {
	dir := t.TempDir()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startPiggingTo(t, dir, nil, pw, "run", "--name", "head", "--", "sh", "-c",
		`echo first; while [ ! -e closed ]; do sleep 0.02; done; i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done`)
	pw.Close()
	buf := make([]byte, 6)
	if _, err := pr.Read(buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	pr.Close() // the reader goes away
	if err := os.WriteFile(filepath.Join(dir, "closed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, testLimit); code != 0 {
		t.Fatalf("exit status %d\nstderr: %s", code, p.stderr.String())
	}
	recs := readLog(t, filepath.Join(dir, "head.log"))
	got := outputLines(recs)
	if len(got) != 2001 || got[2000].msg != "line 1999" {
		t.Errorf("%d output records, want 2001 ending with line 1999", len(got))
	}
	var warned bool
	for _, r := range recs {
		warned = warned || (r.level == "WARN" && strings.HasPrefix(r.text, "Passing the command's output through failed"))
	}
	if !warned {
		t.Error("no WARN record about the pass-through failing")
	}
}

// TestRunTakeOver checks that --take-over starts after a failed run,
// keeping the failed run's log beside the new one.
func TestRunTakeOver(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "again")
	args := []string{"run", "--log", log, "--lock", lock}
	if r := runInProcess(t, append(args, "--", "sh", "-c", "echo first run; exit 3")...); r.code != 3 {
		t.Fatalf("first run: exit status %d\nstderr: %s", r.code, r.stderr)
	}
	r := runInProcess(t, append(args, "--take-over", "--", "sh", "-c", "echo second run")...)
	if r.code != 0 {
		t.Fatalf("run with --take-over: exit status %d\nstderr: %s", r.code, r.stderr)
	}
	prev, err := os.ReadFile(log + ".prev")
	if err != nil || !bytes.Contains(prev, []byte("INFO: first run stream=stdout\n")) || !bytes.Contains(prev, []byte("ERROR: exit status 3\n")) {
		t.Errorf("previous log (%v):\n%s", err, prev)
	}
	recs := readLog(t, log)
	if got := outputLines(recs); len(got) != 1 || got[0].msg != "second run" {
		t.Errorf("output records of the new run: %v", got)
	}
	var warned bool
	for _, r := range recs {
		warned = warned || (r.level == "WARN" && strings.Contains(r.text, "exit status 3"))
	}
	if !warned {
		t.Errorf("no WARN naming the failed run in the new log: %v", recs)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Errorf("lock file after the run that took over succeeded: %v", err)
	}
}

// A last line of the command's stderr without a newline is ended before
// pigging writes its own messages to stderr, not glued to them.
func TestRunPartialStderrLine(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "partial")
	r := runInProcess(t, "run", "--log", log, "--lock", lock, "--", "sh", "-c", "printf oops >&2; exit 3")
	if r.code != 3 {
		t.Fatalf("exit status %d\nstderr: %s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "oops\n") || !strings.Contains(r.stderr, "\nTOTAL SCRIPT TIME: ") {
		t.Errorf("stderr %q, want the command's oops on a line of its own", r.stderr)
	}
}

// The help says what the log does with invalid UTF-8.
func TestRunHelpInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	log, lock := files(dir, "utf")
	if r := runInProcess(t, "run", "--log", log, "--lock", lock, "--", "printf", `a\377b\n`); r.code != 0 {
		t.Fatalf("exit status %d", r.code)
	}
	got := outputLines(readLog(t, log))
	if len(got) != 1 {
		t.Fatalf("output records %v", got)
	}
	help := runInProcess(t, "help", "run").stdout
	switch got[0].msg {
	case "a\uFFFDb":
		if !strings.Contains(help, "invalid UTF-8\n    becomes U+FFFD") && !strings.Contains(help, "invalid UTF-8 becomes U+FFFD") {
			t.Errorf("the log writes U+FFFD for invalid UTF-8; the help does not say so:\n%s", help)
		}
	case `a\xffb`:
		if !strings.Contains(help, `\xff`) || strings.Contains(help, "U+FFFD") {
			t.Errorf("the log writes \\xff for invalid UTF-8; the help does not say so:\n%s", help)
		}
	default:
		t.Errorf("record %q", got[0].msg)
	}
}
