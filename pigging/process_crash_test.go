//go:build unix

package pigging_test

// Crash safety: a run that dies (SIGKILL, a panic, os.Exit after
// LogException) loses no record it logged, leaves no torn line, and leaves
// a stale lock that the next run refuses by default or takes over, linking
// to the dead run's trace.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

func init() {
	childScenarios["crash-log"] = childCrashLog
	childScenarios["crash-panic"] = childCrashPanic
	childScenarios["crash-exit"] = childCrashExit
}

// crashTracker starts a run for the crash children, with an SDK provider so
// that the lock file records a trace id for the next run to link to.
func crashTracker() *pigging.Tracker {
	tp := sdktrace.NewTracerProvider()
	t := pigtest.ChildTracker("crash", pigging.WithTracerProvider(tp))
	if _, err := t.Start(context.Background()); err != nil {
		proctest.ChildDie("Start: %v", err)
	}
	return t
}

// childCrashLog logs "record seq=i" for i = 0, 1, ... and prints i on
// stdout after each Info returns, until it is killed.
func childCrashLog() int {
	t := crashTracker()
	buf := make([]byte, 0, 16)
	for i := 0; ; i++ {
		t.Info("record", "seq", i)
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		buf = append(buf, '\n')
		if _, err := os.Stdout.Write(buf); err != nil {
			proctest.ChildDie("stdout: %v", err)
		}
	}
}

// childCrashPanic logs three records and panics with Stop deferred.
func childCrashPanic() int {
	t := crashTracker()
	defer t.Stop()
	for i := range 3 {
		t.Info("record", "seq", i)
	}
	explodeInTransform()
	return 0
}

func explodeInTransform() {
	panic("boom in transform")
}

// childCrashExit logs a record, logs an exception and exits with 1 without
// Stop, as the Python original's log_exception does.
func childCrashExit() int {
	t := crashTracker()
	t.Info("record", "seq", 0)
	t.LogException(errors.New("disk full"))
	os.Exit(1)
	return 0
}

// TestProcessCrashSIGKILL kills a logging child at a random point, again
// and again. Every record the child reported logged is in the file, every
// line but possibly the last is whole and in sequence, and the lock is
// stale: the next run is refused naming the dead pid, and a TakeOver run
// goes on, keeps the dead run's log as .prev and links to its trace.
func TestProcessCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("50 logging children killed at random points: runs in the full test command")
	}
	const kills = 50
	dir := t.TempDir()
	logPath := filepath.Join(dir, "crash.log")
	lockPath := filepath.Join(dir, "crash.lock")
	env := []string{"LOG=" + logPath, "LOCK=" + lockPath}
	records := 0
	for k := range kills {
		want := 1 + rand.IntN(3000)
		if k == 0 {
			want = 1 // kill almost at once, too
		}
		c := proctest.StartLines(t, "crash-log", env...)
		c.WaitLine(t, 60*time.Second, func(s string) bool {
			n, err := strconv.Atoi(s)
			return err == nil && n+1 >= want
		})
		if err := c.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.Wait(t, 30*time.Second)
		if sig, ok := c.Signaled(); !ok || sig != syscall.SIGKILL {
			t.Fatalf("kill %d: child did not die of SIGKILL: %v", k, c.ProcessState())
		}
		reported := -1
		for _, s := range strings.Fields(c.Output()) {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("kill %d: child stdout %q", k, s)
			}
			if n != reported+1 {
				t.Fatalf("kill %d: child reported %d after %d", k, n, reported)
			}
			reported = n
		}

		lines := proctest.ReadLogLines(t, logPath, true)
		if !strings.Contains(lines[0], "INFO: Starting logging job=crash trace_id=") {
			t.Fatalf("kill %d: first line %q", k, lines[0])
		}
		inFile := 0
		for i, l := range lines[1:] {
			_, rest, _ := strings.Cut(l, " | ")
			wantRec := "INFO: record seq=" + strconv.Itoa(i)
			if rest != wantRec {
				if i == len(lines)-2 && strings.HasPrefix(wantRec, rest) {
					break // the record being written when the kill came
				}
				t.Fatalf("kill %d: line %d = %q, want %q", k, i+2, l, wantRec)
			}
			inFile = i + 1
		}
		if inFile < reported+1 {
			t.Fatalf("kill %d: child reported %d records logged, the file has %d", k, reported+1, inFile)
		}
		records += inFile

		// The lock names the dead run, still "running".
		info := pigtest.ReadLockInfo(t, lockPath)
		if info.PID != c.Pid() || info.Status != pigging.StateRunning || info.TraceID == "" || info.SpanID == "" {
			t.Fatalf("kill %d: lock = %+v, want pid %d running with a trace", k, info, c.Pid())
		}
		logBefore, _ := os.ReadFile(logPath)

		// Refused by default, naming the dead pid, linking to its trace.
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		refused, err := pigging.New(logPath, lockPath, pigging.WithName("crash"), pigging.WithOutput(nil), pigging.WithTracerProvider(tp))
		if err != nil {
			t.Fatal(err)
		}
		_, err = refused.Start(context.Background())
		var lerr *pigging.LockError
		if !errors.Is(err, pigging.ErrStaleLock) || !errors.As(err, &lerr) || lerr.Holder == nil || lerr.Holder.PID != c.Pid() {
			t.Fatalf("kill %d: Start after the kill: %v, want ErrStaleLock naming pid %d", k, err, c.Pid())
		}
		for _, w := range []string{"pid " + strconv.Itoa(c.Pid()), "died without stopping", "pigging unlock --lock " + lockPath} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("kill %d: refusal %q does not say %q", k, err, w)
			}
		}
		if got := pigtest.ReadLockInfo(t, lockPath); got != info {
			t.Fatalf("kill %d: refused Start changed the lock: %+v", k, got)
		}
		logAfter, _ := os.ReadFile(logPath)
		if !strings.HasPrefix(string(logAfter), string(logBefore)) || !strings.Contains(string(logAfter[len(logBefore):]), "ERROR: Locked") {
			t.Fatalf("kill %d: refused Start did not only append its Locked line", k)
		}
		checkLink(t, rec.Ended(), info.TraceID, info.SpanID, "stale lock", c.Pid())

		// Taken over: a WARN naming the dead run, its log kept as .prev.
		rec = tracetest.NewSpanRecorder()
		tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		next, err := pigging.New(logPath, lockPath, pigging.WithName("crash"), pigging.WithOutput(nil), pigging.WithTracerProvider(tp), pigging.WithStaleLock(pigging.TakeOver))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := next.Start(context.Background()); err != nil {
			t.Fatalf("kill %d: TakeOver Start: %v", k, err)
		}
		prev, err := os.ReadFile(logPath + ".prev")
		if err != nil || string(prev) != string(logAfter) {
			t.Fatalf("kill %d: the dead run's log was not kept whole as .prev (%v)", k, err)
		}
		if err := next.Stop(); err != nil {
			t.Fatal(err)
		}
		taken := proctest.ReadLogLines(t, logPath, false)
		if len(taken) != 3 || !strings.Contains(taken[1], "WARN: Took over a stale lock: previous run pid "+strconv.Itoa(c.Pid())) ||
			!strings.Contains(taken[1], "previous_trace_id="+info.TraceID) || !strings.Contains(taken[1], "previous_log=") {
			t.Fatalf("kill %d: TakeOver log:\n%s", k, strings.Join(taken, "\n"))
		}
		checkLink(t, rec.Ended(), info.TraceID, info.SpanID, "took over stale lock", c.Pid())
		if _, err := os.Lstat(lockPath); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("kill %d: TakeOver run's Stop left the lock: %v", k, err)
		}
	}
	t.Logf("%d SIGKILLs survived; %d records checked, none lost, none torn", kills, records)
}

// checkLink asserts that the one ended span links to the dead run's span.
func checkLink(t *testing.T, spans []sdktrace.ReadOnlySpan, traceID, spanID, reason string, pid int) {
	t.Helper()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	links := spans[0].Links()
	if len(links) != 1 {
		t.Fatalf("span %q has %d links, want 1 to the dead run", spans[0].Name(), len(links))
	}
	l := links[0]
	if l.SpanContext.TraceID().String() != traceID || l.SpanContext.SpanID().String() != spanID {
		t.Errorf("link to %s/%s, want %s/%s", l.SpanContext.TraceID(), l.SpanContext.SpanID(), traceID, spanID)
	}
	attrs := attribute.NewSet(l.Attributes...)
	if v, _ := attrs.Value("pigging.link.reason"); v.AsString() != reason {
		t.Errorf("link reason %q, want %q", v.AsString(), reason)
	}
	if v, _ := attrs.Value("process.pid"); v.AsInt64() != int64(pid) {
		t.Errorf("link process.pid %d, want %d", v.AsInt64(), pid)
	}
}

// TestProcessCrashPanic: a child panics with Stop deferred. The panic is
// logged with its stack, the run ends (TOTAL SCRIPT TIME), the panic goes on
// (the process dies of it), and the lock is kept as failed with the panic.
func TestProcessCrashPanic(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "crash.log")
	lockPath := filepath.Join(dir, "crash.lock")
	c := proctest.Start(t, "crash-panic", "LOG="+logPath, "LOCK="+lockPath)
	if code := c.Wait(t, 30*time.Second); code != 2 {
		t.Fatalf("panicking child exit %d, want 2 (the panic went on); stderr %q", code, c.Stderr())
	}
	if !strings.Contains(c.Stderr(), "panic: boom in transform") {
		t.Errorf("the panic was not re-raised: stderr %q", c.Stderr())
	}
	lines := proctest.ReadLogLines(t, logPath, false)
	var errLine = -1
	for i, l := range lines {
		if strings.Contains(l, "| ERROR: panic: boom in transform") {
			errLine = i
		}
	}
	if errLine != 4 {
		t.Fatalf("ERROR line for the panic at %d, want after the header and 3 records:\n%s", errLine, strings.Join(lines, "\n"))
	}
	stack := ""
	for _, l := range lines[errLine+1:] {
		if !strings.HasPrefix(l, "\t") {
			break
		}
		stack += l + "\n"
	}
	for _, w := range []string{"goroutine ", "explodeInTransform", "childCrashPanic"} {
		if !strings.Contains(stack, w) {
			t.Errorf("stack continuation lines lack %q:\n%s", w, stack)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "INFO: TOTAL SCRIPT TIME: ") {
		t.Errorf("last line %q, want TOTAL SCRIPT TIME", last)
	}
	info := pigtest.ReadLockInfo(t, lockPath)
	if info.Status != pigging.StateFailure || info.Error != "panic: boom in transform" || info.PID != c.Pid() {
		t.Fatalf("lock = %+v, want failed with the panic", info)
	}
	next := proctest.Start(t, "try", "LOG="+logPath, "LOCK="+lockPath)
	if code := next.Wait(t, 30*time.Second); code != pigtest.ExitStale || !strings.Contains(next.Output(), "failed: panic: boom in transform") {
		t.Fatalf("next run exit %d %q, want ErrStaleLock naming the panic", code, next.Output())
	}
}

// TestProcessCrashExitAfterLogException: os.Exit(1) right after
// LogException, without Stop. The ERROR line is in the file (it was synced),
// and LogException wrote the failure into the lock at once, so the next run
// is refused as one that failed, naming the error (hardening item 13).
func TestProcessCrashExitAfterLogException(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "crash.log")
	lockPath := filepath.Join(dir, "crash.lock")
	c := proctest.Start(t, "crash-exit", "LOG="+logPath, "LOCK="+lockPath)
	if code := c.Wait(t, 30*time.Second); code != 1 {
		t.Fatalf("child exit %d, want 1; stderr %q", code, c.Stderr())
	}
	lines := proctest.ReadLogLines(t, logPath, false)
	if len(lines) != 3 || !strings.HasSuffix(lines[2], "| ERROR: disk full") {
		t.Fatalf("log:\n%s", strings.Join(lines, "\n"))
	}
	info := pigtest.ReadLockInfo(t, lockPath)
	if info.Status != pigging.StateFailure || info.Error != "disk full" || info.PID != c.Pid() {
		t.Fatalf("lock = %+v, want pid %d failed with \"disk full\"", info, c.Pid())
	}
	tr, err := pigging.New(logPath, lockPath, pigging.WithOutput(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Start(context.Background())
	if !errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", c.Pid())) || !strings.Contains(err.Error(), "failed: disk full") {
		t.Fatalf("Start after the exit: %v, want ErrStaleLock saying pid %d failed: disk full", err, c.Pid())
	}
}
