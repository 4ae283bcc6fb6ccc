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
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/propagators/envcar"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/ping"
	"github.com/pigging-go/pigging/otelpig"
	"github.com/pigging-go/pigging/pglock"
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
	wait     time.Duration
	quiet    bool
	// keepChildren leaves the processes CMD started running after it exits.
	keepChildren bool
	// traceArgs records CMD's arguments on its span (process.command_args).
	traceArgs bool
	ping      string
	pingWait  time.Duration
	// pg is the PostgreSQL DSN of the lock, pgTable its table; "" for the
	// lock file.
	pg, pgTable string
	argv        []string
	pinger      *ping.Pinger // made from ping by parseRun; nil without --ping
}

const runUsage = `Usage: pigging run [flags] [--] CMD [ARG...]

Run CMD as a pigging job: take the lock, start a fresh log, trace the run,
and record every line CMD prints.

  - The lock (default JOB.lock in the working directory; with --pg, or
    $PIGGING_PG_DSN, JOB's row in PostgreSQL, shared by every host) allows
    one run at a time. A run that fails keeps it, so the next run is refused
    until a person has read the log and cleared the lock with "pigging
    unlock" (or --take-over is given). Every run, and every refused start,
    adds an entry to the job's run history ("pigging history").
  - JOB is --name, or the base name of CMD (sync.sh for ./jobs/sync.sh). For
    an interpreter it is its script's base name: sync.py for
    python3 -u jobs/sync.py, nightly.sh for bash -e nightly.sh, etl.jar for
    java -jar etl.jar (python, pythonX.Y, bash, sh, dash, zsh, ksh, node,
    ruby, perl, php, Rscript, java -jar; python3 -m MOD is named MOD); env,
    nice, nohup, ionice, timeout and uv run are looked through to the command
    they run. When there is no script (bash -c '...', dbt run), pigging
    refuses (exit 2) and asks for --name, unless --log and --lock are both
    given: two different jobs never share a lock by accident.
  - The log (default JOB.log in the working directory) is truncated at each
    start. Each line CMD writes to stdout becomes an INFO record, each line to
    stderr a WARN record, tagged stream=stdout or stream=stderr, in the order
    they arrive; the output is also passed through unchanged. A line longer
    than 64 KiB is split into records of at most 64 KiB, each but the last
    tagged partial=true. Control characters are escaped and invalid UTF-8
    becomes U+FFFD in the log, so a record is always one line.
  - CMD's process has a span of its own (kind CLIENT, named after CMD's
    base name, with its pid and exit code), a child of the run's span. CMD
    gets TRACEPARENT, TRACESTATE and BAGGAGE for that span, so an
    OpenTelemetry-instrumented command joins the run's trace. Spans are
    exported as the OTEL_* variables say (OTEL_TRACES_EXPORTER, ...).
    Telemetry never stops the job: a value pigging does not know
    (OTEL_TRACES_EXPORTER=jaeger) is ignored with a warning on stderr and a
    WARN record naming the variable, and the default is used.
  - pigging's own messages, including TOTAL SCRIPT TIME, go to stderr: stdout
    carries CMD's stdout only. The log and the trace name CMD, not its
    arguments, which may hold secrets (--trace-args puts them on the span).

CMD's exit status decides the outcome: 0 removes the lock; any other status,
or death by a signal, keeps it with the reason ("exit status 3").

SIGINT, SIGTERM, SIGHUP (a closed terminal or SSH session) and SIGQUIT are
forwarded to CMD's process group, each followed by SIGCONT so that a stopped
process acts on it; if CMD has not exited after --grace, the group is killed
(SIGKILL). A second SIGINT or SIGTERM kills the group at once. The run ends
as cancelled and keeps its lock (status "cancellation"). --timeout does the
same when the run takes too long; the run then ends as "timeout" with the
error "timed out after D", and keeps its lock. CMD runs in its own process group, so it cannot read from a terminal:
it is stopped (SIGTTIN) if it tries, and on Linux a WARN record says so.

Processes CMD left running in its process group when it exited get SIGTERM,
then SIGKILL after --grace, and a WARN record says how many, as systemd's
KillMode=control-group does; --keep-children leaves them running. A
process that started a session or group of its own (setsid, a daemon) is
not in CMD's group and is left alone.

SIGKILL cannot be caught. CMD inherits the lock as its descriptor 3, so the
lock stays held while CMD or any process it started lives: "pigging status"
says running and the next run is refused until they have exited; then the
lock is stale ("died without stopping"). On Linux CMD also gets SIGTERM
when pigging dies.

Passing output through never holds the run's end: while CMD runs, a reader
that does not keep up slows CMD down, as a slow terminal would; once CMD
has exited, a write to pigging's stdout or stderr gets 2s, then passing
through stops (a WARN record says so; the log keeps every line), and
pigging ends as it would have.

On Windows there are no process groups and no SIGTERM: CMD is not signalled
(a console Ctrl-C reaches it directly); after a signal or the timeout pigging
waits --grace, then terminates CMD only (processes it started keep running).

A duration (--timeout, --grace, --wait, --ping-timeout) is a number with a
unit (90s, 5m, 1h30m, 250ms) or a bare number of seconds (5, 0.5).

Exit status:
  CMD's own status   CMD exited (128+N when it was killed by signal N)
  2                  bad usage
  75                 the lock refused the run (EX_TEMPFAIL); the holder is printed
  124                --timeout ended the run
  125                pigging failed (log or lock file)
  126                CMD could not be started
  127                CMD was not found

CMD's status is passed on unchanged, so a CMD that exits 75, 124, 125, 126
or 127 looks like pigging's own status to the caller. Where it matters, the
run says who decided: the log's last record before TOTAL SCRIPT TIME has
exit_code=N and exit_source=command (CMD's status) or exit_source=pigging
(with reason=timeout for --timeout); the run span has pigging.exit.code
and pigging.exit.source; a lock kept after the run has "exit_code" and
"exit_source" (pigging status --json shows them). A refused run changes
neither the lock nor the log's run: it appends an ERROR "Locked: ..." or a
WARN "Refused a second run ..." record, and its span has
cicd.pipeline.result=skip.

Flags (one dash or two):
`

// runCommand is "pigging run".
func (c *cli) runCommand(args []string) int {
	o, code, ok := c.parseRun(args)
	if !ok {
		return code
	}
	if !o.quiet {
		return c.runJob(context.Background(), o)
	}
	// Everything the run writes, CMD's output, pigging's messages and the
	// trace summary, waits in q until the run's status is known.
	q := newQuietBuffer(quietLimit)
	quiet := &cli{stdin: c.stdin, stdout: q.writer(false), stderr: &syncWriter{w: q.writer(true)}, tp: c.tp}
	code = quiet.runJob(context.Background(), o)
	if code != exitOK {
		// Bounded as any output once CMD has exited: a reader that stopped
		// reading loses the replay, not the run's end.
		stderr := c.stderr
		if sw, ok := stderr.(*syncWriter); ok {
			stderr = sw.passThrough()
		}
		q.replay(newOutlet(c.stdout), newOutlet(stderr), o.log)
	}
	return code
}

// parseRun parses the command line of "pigging run". When it reports
// false, the command is over with the exit status it returns (0 for
// --help).
func (c *cli) parseRun(args []string) (runOptions, int, bool) {
	var o runOptions
	fs := o.flags()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = io.WriteString(c.stdout, runUsage)
			fs.SetOutput(c.stdout)
			fs.PrintDefaults()
			return o, exitOK, false
		}
		c.badUsage("run", err.Error())
		return o, exitUsage, false
	}
	o.argv = fs.Args()
	if err := o.complete(); err != nil {
		c.badUsage("run", err.Error())
		return o, exitUsage, false
	}
	return o, 0, true
}

// flags returns the flag set of "pigging run", which parses into o.
func (o *runOptions) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("pigging run", flag.ContinueOnError)
	// Parse prints nothing: parseRun prints help to stdout, errors to stderr.
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.name, "name", "", "the job's `name`: in the run span's name (RUN name) and the files' default names\n(default: the base name of CMD, without .exe, .bat, .cmd or .com; for an\ninterpreter, of its script, as said above)")
	fs.StringVar(&o.log, "log", "", "the run's log `file` (default JOB.log in the working directory)")
	fs.StringVar(&o.lock, "lock", "", "the run's lock `file` (default JOB.lock in the working directory)")
	fs.BoolVar(&o.takeOver, "take-over", false, "start even when a previous run failed, was cancelled or died:\nlog a WARN naming it and keep its log as LOG.prev")
	o.grace = defaultGrace
	fs.Var(durationFlag{&o.timeout}, "timeout", "end the run as timed out after this `duration`, as on SIGTERM, and keep its lock (0: no limit)")
	fs.Var(durationFlag{&o.grace}, "grace", "the `duration` CMD has to exit after a forwarded signal or the timeout\nbefore its process group is killed")
	fs.StringVar(&o.ping, "ping", os.Getenv(pingEnv), "a healthchecks-style check `URL` to ping when the run starts (URL/start) and\nends (URL on success, URL/<exit status> or URL/fail on failure), with the\nlog's last 10 KiB; a failed ping never changes the outcome (default $"+pingEnv+")")
	fs.Var(durationFlag{&o.wait}, "wait", "when another run holds the lock, wait up to this `duration` for it to finish\nbefore refusing (75); a lock a failed run left is refused at once (0: do not wait)")
	fs.BoolVar(&o.keepChildren, "keep-children", false, "leave running the processes CMD started in its process group when it exits\n(by default they get SIGTERM, then SIGKILL after --grace)")
	fs.BoolVar(&o.quiet, "quiet", false, "print nothing if the run exits 0 (the log still has every line); else print\nall of it, CMD's output, pigging's messages and the trace summary, once the\nrun has ended, like chronic: cron then mails only failures (up to the\nlast 8 MiB; the log has the rest)")
	fs.BoolVar(&o.traceArgs, "trace-args", traceArgsDefault(), "record CMD and its arguments on the command's span (process.command_args);\noff by default, as arguments may hold secrets (default $"+traceArgsEnv+"=true)")
	fs.StringVar(&o.pg, "pg", "", "take the lock in PostgreSQL (package pglock) at this `DSN` instead of a lock\nfile, for a job scheduled on several hosts: the job's name is the key, and a\nfailed run blocks every host until \"pigging unlock --pg\" (default $"+pgEnv+",\nwhich keeps the password out of the process list)")
	fs.StringVar(&o.pgTable, "pg-table", pglock.DefaultTable, "with --pg, the `table` that keeps the jobs' locks")
	o.pingWait = ping.DefaultTimeout
	fs.Var(durationFlag{&o.pingWait}, "ping-timeout", "the longest `duration` one ping may take, its retries included")
	return fs
}

// complete checks the parsed command line and fills in what it left to
// defaults: the pinger, the PostgreSQL DSN from the environment, the job's
// name and its files. Its error says what is wrong with the command line.
func (o *runOptions) complete() error {
	switch {
	case len(o.argv) == 0:
		return errors.New("no command given")
	case o.argv[0] == "":
		return errors.New("the command is empty")
	case o.timeout < 0:
		return fmt.Errorf("--timeout %s is negative", o.timeout)
	case o.grace < 0:
		return fmt.Errorf("--grace %s is negative", o.grace)
	case o.wait < 0:
		return fmt.Errorf("--wait %s is negative", o.wait)
	case o.pingWait <= 0:
		return fmt.Errorf("--ping-timeout %s is not positive", o.pingWait)
	}
	if o.ping != "" {
		p, err := ping.New(o.ping, ping.WithTimeout(o.pingWait), ping.WithUserAgent("pigging/"+pigging.Version()))
		if err != nil {
			return fmt.Errorf("--ping (or $%s): %w", pingEnv, err)
		}
		o.pinger = p
	}
	if o.pg == "" && o.lock == "" {
		o.pg = os.Getenv(pgEnv)
	}
	if o.pg != "" && o.lock != "" {
		return fmt.Errorf("--lock names a lock file; with --pg (or $%s) the lock is the job's row in PostgreSQL", pgEnv)
	}
	return o.defaultFiles()
}

// defaultFiles names the job after its command when --name is not given,
// and its log and lock files after the job when they are not.
func (o *runOptions) defaultFiles() error {
	if o.name == "" {
		name, err := defaultJobName(o.argv)
		switch {
		case err != nil && o.log != "" && o.lock != "":
			// No file is named after the job: it is only the span's name.
			name = jobName(o.argv[0])
		case err != nil:
			n := jobName(o.argv[0])
			return fmt.Errorf("no script in the command to name the job after: it would be %q, like every %s job\nrun here, and share %s.lock with them; give --name JOB", n, n, n)
		}
		if o.name = name; o.name == "" {
			return fmt.Errorf("no job name in the command %q: give --name", o.argv[0])
		}
	}
	if o.log == "" || o.lock == "" && o.pg == "" {
		// The name becomes a file name in the working directory.
		if o.name == "." || o.name == ".." || strings.ContainsAny(o.name, `/\`) {
			return fmt.Errorf("job name %q cannot name a file: give --name, or --log and --lock", o.name)
		}
		if o.log == "" {
			o.log = o.name + ".log"
		}
		if o.lock == "" && o.pg == "" {
			o.lock = o.name + ".lock"
		}
	}
	return nil
}

// runJob runs the job o describes and returns pigging's exit status. The
// trace is flushed before it returns.
func (c *cli) runJob(ctx context.Context, o runOptions) int {
	ctx, tp, telemetryWarnings, shutdown := c.telemetry(ctx, o.name)
	defer shutdown()

	// Signals are caught before the lock is taken, so that none can end
	// pigging between taking the lock and starting the command.
	sigs, stopSignals := notifySignals()
	defer stopSignals()

	policy := pigging.Refuse
	if o.takeOver {
		policy = pigging.TakeOver
	}
	locker, err := o.locker()
	if err != nil {
		fmt.Fprintf(c.stderr, "pigging run: %s\n", errText(err))
		return exitUsage
	}
	t, err := pigging.New(o.log, o.lock,
		pigging.WithName(o.name),
		pigging.WithTracerProvider(tp),
		pigging.WithStaleLock(policy),
		pigging.WithOutput(c.stderr),
		pigging.WithLocker(locker))
	if err != nil {
		fmt.Fprintf(c.stderr, "pigging run: %s\n", errText(err))
		return exitUsage
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	spanCtx, waited, err := c.start(runCtx, t, locker, o, sigs)
	if stopped := (*errWaitStopped)(nil); errors.As(err, &stopped) {
		fmt.Fprintf(c.stderr, "pigging: %s after %s\n", stopped, waited.Round(time.Millisecond))
		return stopped.code()
	}
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		if o.wait > 0 && errors.Is(err, pigging.ErrLocked) && !errors.Is(err, pigging.ErrStaleLock) {
			fmt.Fprintf(c.stderr, "pigging: %s\n", waitedText(waited, o.wait))
		}
		c.pingRefused(ctx, o.pinger, err)
		if errors.Is(err, pigging.ErrLocked) {
			return exitLocked
		}
		return exitInternal
	}
	for _, w := range telemetryWarnings {
		t.Warn(w)
	}
	started := c.pingStart(spanCtx, t, o.pinger)
	j := &job{cli: c, opts: o, t: t, spanCtx: spanCtx, cancel: cancel, sigs: sigs}
	code := j.run(spanCtx)
	c.pingEnd(spanCtx, t, o.pinger, started, code)
	if err := t.Stop(); err != nil {
		fmt.Fprintf(c.stderr, "pigging: %s\n", errText(err))
		if code == exitOK {
			code = exitInternal
		}
	}
	return code
}

// telemetry sets up the run's telemetry from the OTEL_* variables, unless
// the cli has a tracer provider of its own, and returns the ctx of the
// parent trace the environment names, the tracer provider, the warnings
// the run's log is to carry and the function that flushes and shuts it
// down. Telemetry never stops the job: a variable Setup ignores (it says
// so on stderr) and an exporter that cannot be built are warnings, and the
// job runs.
func (c *cli) telemetry(ctx context.Context, name string) (context.Context, trace.TracerProvider, []string, func()) {
	if c.tp != nil {
		return ctx, c.tp, nil, func() {}
	}
	var warnings []string
	for _, w := range otelpig.EnvWarnings() {
		warnings = append(warnings, strings.TrimPrefix(w.Error(), "otelpig: "))
	}
	var tp trace.TracerProvider
	shutdown, err := otelpig.Setup(ctx, otelpig.WithServiceName(name), otelpig.WithWriter(c.stderr))
	if err != nil {
		msg := fmt.Sprintf("tracing setup failed, the run's trace is not exported: %s", strings.TrimPrefix(err.Error(), "otelpig: "))
		fmt.Fprintf(c.stderr, "pigging: WARN: %s\n", msg)
		warnings = append(warnings, msg)
		// Spans still get ids for the log and the lock.
		sdk := sdktrace.NewTracerProvider()
		shutdown, tp = sdk.Shutdown, sdk
	} else {
		tp = otel.GetTracerProvider()
	}
	return otelpig.ContextFromEnv(ctx), tp, warnings, func() {
		// A collector that cannot be reached never changes the job's
		// outcome: it is in the log and the lock file.
		if err := shutdown(context.Background()); err != nil {
			fmt.Fprintf(c.stderr, "pigging: exporting the trace: %s\n", errText(err))
		}
	}
}

// job is one started run of the command.
type job struct {
	*cli
	opts    runOptions
	t       *pigging.Tracker
	spanCtx context.Context // carries the run span
	cancel  context.CancelCauseFunc
	sigs    <-chan os.Signal
}

// Attributes of the run span saying what pigging exits with, and who
// decided it: the command (its status passed on) or pigging.
const (
	attrExitCode   = "pigging.exit.code"
	attrExitSource = "pigging.exit.source"
)

// errText is err's message without the "pigging: " the library's errors
// start with, for a message that has its own prefix.
func errText(err error) string {
	return strings.TrimPrefix(err.Error(), "pigging: ")
}

// timeoutError is the failure of a run that --timeout ended.
type timeoutError struct {
	after time.Duration
	ended string // how the command ended: "exit status 143"
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("timed out after %s (command %s)", e.after, e.ended)
}

// Unwrap makes a timeout a context.DeadlineExceeded, which the Tracker
// reads as a run that ended in StateTimeout.
func (e *timeoutError) Unwrap() error { return context.DeadlineExceeded }

// run starts the command in the run span's ctx, waits for it while
// forwarding signals and watching the timeout, records how it ended, and
// returns pigging's exit status. The caller stops the Tracker.
func (j *job) run(ctx context.Context) int {
	procCtx, proc := startCommandSpan(ctx, j.opts.argv, j.opts.traceArgs)
	cmd := j.command(procCtx)
	outStdout, outStderr, passStderr := j.outlets()
	pumps := []*pump{newPump("stdout", j.t.Info, outStdout), newPump("stderr", j.t.Warn, passStderr)}

	// The command writes into pipes of pigging's own, not os/exec's: Wait
	// then returns when the command exits, whatever happens to its output
	// afterwards, and pigging decides how long to wait for that output.
	readEnds, writeEnds, err := pipes(len(pumps))
	if err != nil {
		err = fmt.Errorf("making a pipe for the command's output: %w", err)
		proc.failed(err)
		return j.failed(err, exitInternal)
	}
	cmd.Stdout, cmd.Stderr = writeEnds[0], writeEnds[1]
	done, err := j.launch(cmd, writeEnds)
	if err != nil {
		closeAll(readEnds)
		proc.failed(err)
		code := exitNoExec
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			code = exitNotFound
		}
		return j.failed(fmt.Errorf("starting %s: %w", j.opts.argv[0], err), code)
	}
	// The arguments stay out of the log, and out of the trace unless
	// --trace-args: they may hold secrets.
	j.t.Info("Command started", "command", j.opts.argv[0], "pid", cmd.Process.Pid)
	proc.started(cmd.Process.Pid)
	pumped := readAll(pumps, readEnds)

	// Passing the output through may slow the command down while it runs,
	// as a slow terminal would; once it has exited, it is bounded.
	outStdout.setLimit(0)
	outStderr.setLimit(0)
	waitErr, timedOut := j.supervise(cmd, done)
	if cmd.ProcessState != nil && !j.opts.keepChildren {
		j.stopLeftovers(cmd)
	}
	outStdout.setLimit(outputGrace)
	outStderr.setLimit(outputGrace)
	leftover := drain(pumped, readEnds, outStdout, outStderr)
	closeAll(readEnds)

	if cmd.ProcessState == nil { // Wait itself failed: there is no status
		proc.failed(waitErr)
		return j.failed(fmt.Errorf("waiting for %s: %w", j.opts.argv[0], waitErr), exitInternal)
	}
	j.reportOutput(pumps, leftover)
	return j.ended(ctx, cmd.ProcessState, proc, timedOut)
}

// command returns the command to run, its TRACEPARENT naming the span in
// procCtx, its own, a child of the run's.
func (j *job) command(procCtx context.Context) *exec.Cmd {
	cmd := exec.Command(j.opts.argv[0], j.opts.argv[1:]...)
	cmd.Env = childEnv(procCtx, os.Environ())
	cmd.Stdin = j.stdin
	cmd.SysProcAttr = sysProcAttr()
	// Only a stdin that is not a file is copied by os/exec; stop waiting
	// for it too once the command has exited.
	cmd.WaitDelay = drainDelay
	return cmd
}

// pipes returns the read and write ends of n pipes; on failure none is
// left open.
func pipes(n int) (readEnds, writeEnds []*os.File, err error) {
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(readEnds)
			closeAll(writeEnds)
			return nil, nil, err
		}
		readEnds, writeEnds = append(readEnds, r), append(writeEnds, w)
	}
	return readEnds, writeEnds, nil
}

// closeAll closes every file of fs.
func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// launch starts cmd, which holds the lock file (not a lock in PostgreSQL,
// held by pigging's session, which no child can inherit), closes pigging's
// copies of writeEnds, and returns the channel that gets Wait's error.
func (j *job) launch(cmd *exec.Cmd, writeEnds []*os.File) (<-chan error, error) {
	var lockFile *os.File
	if j.opts.pg == "" {
		var err error
		if lockFile, err = inheritLock(cmd, j.t); err != nil {
			j.t.Warn("The command cannot hold the lock: it is free if pigging dies before it", "error", errText(err))
		}
	}
	started := make(chan error, 1)
	done := make(chan error, 1)
	go startAndWait(cmd, started, done)
	err := <-started
	closeAll(writeEnds)
	if lockFile != nil {
		lockFile.Close()
	}
	return done, err
}

// readAll copies each of readEnds into its pump, and returns a channel
// closed when all have reached the end of their output.
func readAll(pumps []*pump, readEnds []*os.File) <-chan struct{} {
	pumped := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range pumps {
		wg.Go(func() { _, _ = p.ReadFrom(readEnds[i]) })
	}
	go func() {
		wg.Wait()
		close(pumped)
	}()
	return pumped
}

// reportOutput logs what went wrong with the command's output: a reader
// that could not be passed it, a read that failed, and output that
// processes it left behind kept open (leftover).
func (j *job) reportOutput(pumps []*pump, leftover bool) {
	for _, p := range pumps {
		if p.passErr != nil {
			j.t.Warn("Passing the command's output through failed; the log has every line", "stream", p.stream, "error", p.passErr.Error())
		}
		if p.readErr != nil && !errors.Is(p.readErr, os.ErrClosed) {
			j.t.Warn("Reading the command's output failed", "stream", p.stream, "error", p.readErr.Error())
		}
	}
	if leftover {
		j.t.Warn("Output still open after the command exited: processes it started hold it; stopped reading", "after", drainDelay.String())
	}
}

// ended records how the command ended (state) on its span and in the log,
// and returns pigging's exit status: the command's, or 124 when the
// timeout ended it.
func (j *job) ended(ctx context.Context, state *os.ProcessState, proc commandSpan, timedOut bool) int {
	code, sig := exitStatus(state)
	how := fmt.Sprintf("exit status %d", code)
	if sig != "" {
		how = "killed by " + sig
	}
	proc.exited(code, sig, how)
	switch {
	case timedOut:
		j.t.LogException(&timeoutError{after: j.opts.timeout, ended: how})
		return j.exit(exitTimeout, pigging.ExitSourcePigging, "timeout")
	case context.Cause(ctx) != nil:
		// A forwarded signal: Stop ends the run as cancelled.
		j.t.Warn("Command ended after the signal: "+how, "exit_code", code)
	case code != 0:
		j.t.LogException(errors.New(how))
	default:
		j.t.Info("Command exited", "exit_code", code)
	}
	return j.exit(code, pigging.ExitSourceCommand, "")
}

// startAndWait starts cmd, reports how that went on started, then waits
// for it and sends Wait's error on done. It holds its OS thread all the
// while: the parent-death signal (sysProcAttr) fires when the thread that
// started the command exits, and a thread the Go runtime let go of could
// otherwise end while the command runs.
func startAndWait(cmd *exec.Cmd, started, done chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	started <- nil
	done <- cmd.Wait()
}

// drainCut is how long pigging keeps reading the command's output after
// it stopped passing it through, before it stops reading.
const drainCut = 250 * time.Millisecond

// drain waits, after the command exited, for its output to end (pumped is
// closed). After drainDelay it gives up passing output through to a
// reader that stopped reading, so that the log still gets the rest; if the
// output is still open drainCut later, processes the command started hold
// it: it stops reading and reports true.
func drain(pumped <-chan struct{}, readEnds []*os.File, outlets ...*outlet) (leftover bool) {
	tm := time.NewTimer(drainDelay)
	defer tm.Stop()
	select {
	case <-pumped:
		return false
	case <-tm.C:
	}
	for _, o := range outlets {
		o.cutOff()
	}
	tm.Reset(drainCut)
	select {
	case <-pumped:
		return false
	case <-tm.C:
	}
	for _, f := range readEnds {
		f.Close()
	}
	<-pumped
	return true
}

// failed records err, which pigging's own part of the run hit, in the log
// and on stderr, and returns code as pigging's exit status.
func (j *job) failed(err error, code int) int {
	j.t.LogException(err)
	fmt.Fprintf(j.stderr, "pigging: %s\n", errText(err))
	return j.exit(code, pigging.ExitSourcePigging, "")
}

// exit records pigging's exit status code and who decided it, source
// (pigging.ExitSourceCommand or pigging.ExitSourcePigging), in the log's
// last record before TOTAL SCRIPT TIME, on the run span and in the lock
// file the run may keep; reason is pigging's, when it decided. It returns
// code.
func (j *job) exit(code int, source, reason string) int {
	j.t.SetExit(code, source)
	trace.SpanFromContext(j.spanCtx).SetAttributes(
		attribute.Int(attrExitCode, code), attribute.String(attrExitSource, source))
	if source == pigging.ExitSourceCommand {
		j.t.Info("Exiting with the command's status", "exit_code", code, "exit_source", source)
	} else {
		args := []any{"exit_code", code, "exit_source", source}
		if reason != "" {
			args = append(args, "reason", reason)
		}
		j.t.Info("Exiting with a status of pigging's own", args...)
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
	// Where the system shows it, pigging looks every stopCheck whether the
	// command is stopped: in a process group of its own, it is stopped by
	// SIGTTIN as soon as it reads from a terminal, and would wait forever.
	var stopTick <-chan time.Time
	if canSeeStops {
		tk := time.NewTicker(stopCheck)
		defer tk.Stop()
		stopTick = tk.C
	}
	var stopped bool
	signals := 0
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
			signals++
			if signals > 1 && (sig == os.Interrupt || sig == syscall.SIGTERM) {
				// A second Ctrl-C or SIGTERM means now, as for the library's Run.
				j.t.Warn("Received " + name + " again, killing the command's process group now")
				if err := kill(cmd); err != nil {
					j.t.Warn("Killing the command failed", "error", err.Error())
				}
				break
			}
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
		case <-stopTick:
			now := commandStopped(cmd)
			if now && !stopped {
				j.t.Warn("The command is stopped: a process in a group of its own is stopped by SIGTTIN or SIGTTOU when it reads from or writes to the terminal (or by SIGSTOP); pigging follows each signal it forwards with SIGCONT",
					"pid", cmd.Process.Pid)
			}
			stopped = now
		case <-grace:
			grace = nil
			// done has not fired: the command itself is still running.
			j.t.Warn("The command was still running " + j.opts.grace.String() + " after being asked to stop, killing its process group")
			if err := kill(cmd); err != nil {
				j.t.Warn("Killing the command failed", "error", err.Error())
			}
		}
	}
}

// stopCheck is how often pigging looks whether the command is stopped.
const stopCheck = 500 * time.Millisecond

// stopLeftovers stops the processes the command left running in its
// process group when it exited, as systemd's KillMode=control-group does:
// SIGTERM (and SIGCONT), then SIGKILL for those still there after
// --grace, with a WARN record saying how many.
func (j *job) stopLeftovers(cmd *exec.Cmd) {
	n, alive := groupLeft(cmd)
	if !alive {
		return
	}
	count := "processes"
	if n == 1 {
		count = "1 process"
	} else if n > 1 {
		count = fmt.Sprintf("%d processes", n)
	}
	j.t.Warn("The command left "+count+" running in its process group: sending SIGTERM (--keep-children keeps them)",
		"processes", n, "grace", j.opts.grace.String())
	if err := terminate(cmd, nil); err != nil {
		j.t.Warn("Stopping the command's leftover processes failed", "error", err.Error())
	}
	deadline := time.Now().Add(j.opts.grace)
	for pause := 10 * time.Millisecond; ; pause = min(2*pause, 200*time.Millisecond) {
		if n, alive = groupLeft(cmd); !alive {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		time.Sleep(min(pause, left))
	}
	j.t.Warn("Processes the command left were still running "+j.opts.grace.String()+" after SIGTERM, killing them", "processes", n)
	if err := kill(cmd); err != nil {
		j.t.Warn("Killing the command's leftover processes failed", "error", err.Error())
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

// locker returns the run's lock: the job's row in PostgreSQL with --pg,
// else the lock file. It returns an error for a DSN that cannot be parsed,
// never with the password in it.
func (o *runOptions) locker() (pigging.Locker, error) {
	if o.pg == "" {
		return pigging.NewFileLocker(o.lock, 0o644), nil
	}
	return pglock.New(o.pg, o.name, pglock.WithTable(o.pgTable))
}
