package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/propagators/envcar"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/otelpig"
	"github.com/pigging-go/pigging/pigging"
)

// defaultGrace is how long a signalled or timed-out command has to exit
// before its process group is killed.
const defaultGrace = 10 * time.Second

// drainDelay is how long pigging keeps reading the command's output after
// the command exited, for processes it left behind that still hold its
// stdout or stderr; then it stops reading.
const drainDelay = 2 * time.Second

// runOptions is the command line of "pigging run".
type runOptions struct {
	name     string
	log      string
	lock     string
	takeOver bool
	timeout  time.Duration
	grace    time.Duration
	argv     []string
}

const runUsage = `Usage: pigging run [flags] [--] CMD [ARG...]

Run CMD as a pigging job: take the lock, start a fresh log, trace the run,
and record every line CMD prints.

  - The lock (default JOB.lock in the working directory) allows one run at a
    time. A run that fails keeps it, so the next run is refused until a person
    has read the log and deleted the lock (or --take-over is given).
  - The log (default JOB.log in the working directory) is truncated at each
    start. Each line CMD writes to stdout becomes an INFO record, each line to
    stderr a WARN record, tagged stream=stdout or stream=stderr, in the order
    they arrive; the output is also passed through unchanged. A line longer
    than 64 KiB is split into records of at most 64 KiB, each but the last
    tagged partial=true. Control characters are escaped and invalid UTF-8
    becomes U+FFFD in the log, so a record is always one line.
  - CMD gets TRACEPARENT, TRACESTATE and BAGGAGE for the run's span, so an
    OpenTelemetry-instrumented command joins the run's trace. Spans are
    exported as the OTEL_* variables say (OTEL_TRACES_EXPORTER, ...).
  - pigging's own messages, including TOTAL SCRIPT TIME, go to stderr: stdout
    carries CMD's stdout only. The log and the trace name CMD, not its
    arguments, which may hold secrets.

CMD's exit status decides the outcome: 0 removes the lock; any other status,
or death by a signal, keeps it with the reason ("exit status 3").

SIGINT and SIGTERM are forwarded to CMD's process group; if CMD has not
exited after --grace, the group is killed (SIGKILL). The run ends as
cancelled and keeps its lock (status "cancelled"). --timeout does the same
when the run takes too long, and the run fails with "timed out after D".
CMD runs in its own process group, so it cannot read from a terminal.

On Windows there are no process groups and no SIGTERM: CMD is not signalled
(a console Ctrl-C reaches it directly); after a signal or the timeout pigging
waits --grace, then terminates CMD only (processes it started keep running).

Exit status:
  CMD's own status   CMD exited (128+N when it was killed by signal N)
  2                  bad usage
  75                 the lock refused the run (EX_TEMPFAIL); the holder is printed
  124                --timeout ended the run
  125                pigging failed (log or lock file, tracing setup)
  126                CMD could not be started
  127                CMD was not found

Flags (one dash or two):
`

// runCommand is "pigging run".
func (c *cli) runCommand(args []string) int {
	o, code, ok := c.parseRun(args)
	if !ok {
		return code
	}
	return c.runJob(context.Background(), o)
}

// parseRun parses the command line of "pigging run". When it reports
// false, the command is over with the exit status it returns (0 for
// --help).
func (c *cli) parseRun(args []string) (runOptions, int, bool) {
	var o runOptions
	fs := flag.NewFlagSet("pigging run", flag.ContinueOnError)
	// Parse prints nothing: help goes to stdout, errors to stderr, below.
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.name, "name", "", "the job's `name`: the run span's name and the files' default names\n(default: the base name of CMD, without .exe, .bat, .cmd or .com)")
	fs.StringVar(&o.log, "log", "", "the run's log `file` (default JOB.log in the working directory)")
	fs.StringVar(&o.lock, "lock", "", "the run's lock `file` (default JOB.lock in the working directory)")
	fs.BoolVar(&o.takeOver, "take-over", false, "start even when a previous run failed, was cancelled or died:\nlog a WARN naming it and keep its log as LOG.prev")
	fs.DurationVar(&o.timeout, "timeout", 0, "end the run as failed after this `duration`, as on SIGTERM (0: no limit)")
	fs.DurationVar(&o.grace, "grace", defaultGrace, "how long CMD has to exit after a forwarded signal or the timeout\nbefore its process group is killed")
	bad := func(format string, a ...any) (runOptions, int, bool) {
		fmt.Fprintf(c.stderr, "pigging run: "+format+"\n", a...)
		fmt.Fprintln(c.stderr, "Run 'pigging help run' for usage.")
		return o, exitUsage, false
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = io.WriteString(c.stdout, runUsage)
			fs.SetOutput(c.stdout)
			fs.PrintDefaults()
			return o, exitOK, false
		}
		return bad("%v", err)
	}
	o.argv = fs.Args()
	switch {
	case len(o.argv) == 0:
		return bad("no command given")
	case o.argv[0] == "":
		return bad("the command is empty")
	case o.timeout < 0:
		return bad("--timeout %s is negative", o.timeout)
	case o.grace < 0:
		return bad("--grace %s is negative", o.grace)
	}
	if o.name == "" {
		if o.name = jobName(o.argv[0]); o.name == "" {
			return bad("no job name in the command %q: give --name", o.argv[0])
		}
	}
	if o.log == "" || o.lock == "" {
		// The name becomes a file name in the working directory.
		if o.name == "." || o.name == ".." || strings.ContainsAny(o.name, `/\`) {
			return bad("job name %q cannot name a file: give --name, or --log and --lock", o.name)
		}
		if o.log == "" {
			o.log = o.name + ".log"
		}
		if o.lock == "" {
			o.lock = o.name + ".lock"
		}
	}
	return o, 0, true
}

// jobName is the default job name for the command cmd: its base name,
// without the extension of a Windows executable. Both / and \ separate
// directories, whatever the system.
func jobName(cmd string) string {
	name := cmd[strings.LastIndexAny(cmd, `/\`)+1:]
	switch ext := filepath.Ext(name); strings.ToLower(ext) {
	case ".exe", ".bat", ".cmd", ".com":
		name = strings.TrimSuffix(name, ext)
	}
	return name
}

// runJob runs the job o describes and returns pigging's exit status. The
// trace is flushed before it returns.
func (c *cli) runJob(ctx context.Context, o runOptions) int {
	tp := c.tp
	if tp == nil {
		shutdown, err := otelpig.Setup(ctx, otelpig.WithServiceName(o.name), otelpig.WithWriter(c.stderr))
		if err != nil {
			fmt.Fprintf(c.stderr, "pigging: tracing setup: %v\n", err)
			return exitInternal
		}
		defer func() {
			// A collector that cannot be reached never changes the job's
			// outcome: it is in the log and the lock file.
			if err := shutdown(context.Background()); err != nil {
				fmt.Fprintf(c.stderr, "pigging: exporting the trace: %v\n", err)
			}
		}()
		tp = otel.GetTracerProvider()
		ctx = otelpig.ContextFromEnv(ctx)
	}

	// Signals are caught before the lock is taken, so that none can end
	// pigging between taking the lock and starting the command.
	sigs, stopSignals := notifySignals()
	defer stopSignals()

	policy := pigging.Refuse
	if o.takeOver {
		policy = pigging.TakeOver
	}
	t, err := pigging.New(o.log, o.lock,
		pigging.WithName(o.name),
		pigging.WithTracerProvider(tp),
		pigging.WithStaleLock(policy),
		pigging.WithOutput(c.stderr))
	if err != nil {
		fmt.Fprintf(c.stderr, "pigging run: %v\n", err)
		return exitUsage
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	spanCtx, err := t.Start(runCtx)
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		if errors.Is(err, pigging.ErrLocked) {
			return exitLocked
		}
		return exitInternal
	}
	j := &job{cli: c, opts: o, t: t, cancel: cancel, sigs: sigs}
	code := j.run(spanCtx)
	if err := t.Stop(); err != nil {
		fmt.Fprintf(c.stderr, "pigging: %v\n", err)
		if code == exitOK {
			code = exitInternal
		}
	}
	return code
}

// job is one started run of the command.
type job struct {
	*cli
	opts   runOptions
	t      *pigging.Tracker
	cancel context.CancelCauseFunc
	sigs   <-chan os.Signal
}

// timeoutError is the failure of a run that --timeout ended.
type timeoutError struct {
	after time.Duration
	ended string // how the command ended: "exit status 143"
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("timed out after %s (command %s)", e.after, e.ended)
}

// run starts the command in the run span's ctx, waits for it while
// forwarding signals and watching the timeout, records how it ended, and
// returns pigging's exit status. The caller stops the Tracker.
func (j *job) run(ctx context.Context) int {
	t := j.t
	cmd := exec.Command(j.opts.argv[0], j.opts.argv[1:]...)
	cmd.Env = childEnv(ctx, os.Environ())
	cmd.Stdin = j.stdin
	stdout := newPump("stdout", t.Info, j.stdout)
	stderr := newPump("stderr", t.Warn, j.stderr)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = drainDelay

	if err := cmd.Start(); err != nil {
		err = fmt.Errorf("starting %s: %w", j.opts.argv[0], err)
		t.LogException(err)
		fmt.Fprintf(j.stderr, "pigging: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return exitNotFound
		}
		return exitNoExec
	}
	// The arguments stay out of the log and the trace: they may hold secrets.
	t.Info("Command started", "command", j.opts.argv[0], "pid", cmd.Process.Pid)
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("process.command", j.opts.argv[0]))

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitErr, timedOut := j.supervise(cmd, done)

	if cmd.ProcessState == nil { // Wait itself failed: there is no status
		err := fmt.Errorf("waiting for %s: %w", j.opts.argv[0], waitErr)
		t.LogException(err)
		fmt.Fprintf(j.stderr, "pigging: %v\n", err)
		return exitInternal
	}
	leftover := errors.Is(waitErr, exec.ErrWaitDelay)
	for _, p := range []*pump{stdout, stderr} {
		p.Flush()
		if p.passErr != nil {
			t.Warn("Passing the command's output through failed; the log has every line", "stream", p.stream, "error", p.passErr.Error())
		}
		switch {
		case errors.Is(p.readErr, os.ErrClosed):
			leftover = true
		case p.readErr != nil:
			t.Warn("Reading the command's output failed", "stream", p.stream, "error", p.readErr.Error())
		}
	}
	if leftover {
		t.Warn("Output still open after the command exited: processes it started hold it; stopped reading", "after", drainDelay.String())
	}

	code, sig := exitStatus(cmd.ProcessState)
	ended := fmt.Sprintf("exit status %d", code)
	if sig != "" {
		ended = "killed by " + sig
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int("process.exit.code", code))
	switch {
	case timedOut:
		t.LogException(&timeoutError{after: j.opts.timeout, ended: ended})
		return exitTimeout
	case context.Cause(ctx) != nil:
		// A forwarded signal: Stop ends the run as cancelled.
		t.Warn("Command ended after the signal: "+ended, "exit_code", code)
	case code != 0:
		t.LogException(errors.New(ended))
	default:
		t.Info("Command exited", "exit_code", code)
	}
	return code
}

// supervise waits for the command (done), forwarding signals to its
// process group, enforcing the timeout and, once either has asked it to
// stop, killing the group after the grace period. It returns Wait's error
// and whether the timeout ended the run.
func (j *job) supervise(cmd *exec.Cmd, done <-chan error) (waitErr error, timedOut bool) {
	var timeout, grace <-chan time.Time
	if j.opts.timeout > 0 {
		tm := time.NewTimer(j.opts.timeout)
		defer tm.Stop()
		timeout = tm.C
	}
	var graceTimer *time.Timer
	defer func() {
		if graceTimer != nil {
			graceTimer.Stop()
		}
	}()
	// stopping is set by the first signal or the timeout, whichever comes
	// first; it decides the outcome, and starts the grace period.
	stopping := func(cause error) {
		if graceTimer != nil {
			return
		}
		j.cancel(cause)
		graceTimer = time.NewTimer(j.opts.grace)
		grace = graceTimer.C
	}
	for {
		select {
		case err := <-done:
			return err, timedOut
		case sig := <-j.sigs:
			name := signalName(sig)
			stopping(fmt.Errorf("received %s", name))
			j.t.Warn("Received "+name+", forwarding it to the command", "grace", j.opts.grace.String())
			if err := terminate(cmd, sig); err != nil {
				j.t.Warn("Forwarding "+name+" failed", "error", err.Error())
			}
		case <-timeout:
			timeout = nil
			if graceTimer != nil {
				break // a signal is already stopping the run
			}
			timedOut = true
			stopping(&timeoutError{after: j.opts.timeout, ended: "still running"})
			j.t.Warn("Timed out after "+j.opts.timeout.String()+", stopping the command", "grace", j.opts.grace.String())
			if err := terminate(cmd, nil); err != nil {
				j.t.Warn("Stopping the command failed", "error", err.Error())
			}
		case <-grace:
			grace = nil
			j.t.Warn("The command did not exit within " + j.opts.grace.String() + " after being asked to stop, killing it")
			if err := kill(cmd); err != nil {
				j.t.Warn("Killing the command failed", "error", err.Error())
			}
		}
	}
}

// propagator writes the run's trace context for the command in the W3C
// formats the TRACEPARENT, TRACESTATE and BAGGAGE variables carry,
// whatever the global propagator is.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// childEnv returns environ with the trace context variables replaced by
// those of ctx: inherited ones name pigging's parent, not the run.
func childEnv(ctx context.Context, environ []string) []string {
	env := make([]string, 0, len(environ)+3)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "TRACEPARENT", "TRACESTATE", "BAGGAGE":
			continue
		}
		env = append(env, kv)
	}
	propagator.Inject(ctx, &envcar.Carrier{SetEnvFunc: func(k, v string) {
		env = append(env, k+"="+v)
	}})
	return env
}
