// Command pigging runs any command as a pigging job: one run at a time (a lock
// file), a fresh log of the latest run, and an OpenTelemetry trace of it. It
// is for the jobs that are not written in Go (shell, Python, SQL, dbt) and
// run from cron.
//
// Install it with
//
//	go install github.com/pigging-go/pigging/cmd/pigging@latest
//
// # Running a command
//
//	pigging run [--name JOB] [--log FILE] [--lock FILE | --pg DSN] [--take-over] [--wait D]
//	            [--timeout D] [--grace D] [--quiet] [--keep-children] [--] CMD [ARG...]
//
// takes the lock JOB.lock and starts a fresh log JOB.log in the working
// directory (JOB defaults to the base name of CMD, or of its script when
// CMD is an interpreter such as python3 or bash), starts CMD with
// TRACEPARENT, TRACESTATE and BAGGAGE set to the run's span, and writes each
// line CMD prints to the log: its stdout as INFO records and its stderr as
// WARN records, each with stream=stdout or stream=stderr. The output is also
// passed through unchanged to pigging's own stdout and stderr.
//
// CMD's exit status decides the outcome. Status 0 ends the run as a success
// and removes the lock; any other status, or death by a signal, fails the run
// and keeps the lock with "exit status N" in it, so the next run is refused
// until a person has read the log. pigging exits with CMD's status (128+N for
// a command killed by signal N), with 75 (EX_TEMPFAIL) when the lock refused
// the run, with 124 when --timeout ended it, and with 2 on bad usage. A
// command's own 75, 124, 125, 126 or 127 is passed on as it is: the log
// (exit_source=command or exit_source=pigging), the run span
// (pigging.exit.source) and a kept lock ("exit_source") say whose status it
// was. Run "pigging help run" for every flag, default and exit status.
//
// # Inspecting and clearing a lock, the run history
//
//	pigging status  [--name JOB | --lock FILE] [--pg DSN] [--json]
//	                [--max-age D] [--max-runtime D] [--every CRON [--grace D]]
//	pigging history [--name JOB | --lock FILE] [--pg DSN] [-n N] [--json]
//	pigging unlock  [--name JOB | --lock FILE] [--pg DSN]
//
// status says whether the lock is free, held by a running job (pid, host,
// age, trace id), or stale (failed, cancelled or died: the error, when, the
// log to read), and exits 0, 1 or 2 accordingly; from the run history it
// shows the last success and failure, or that the job never ran. With
// --max-age, --max-runtime or --every it is a monitoring check: 0 healthy,
// 2 stale, 3 late (no success in time, or never ran), 4 overrunning.
// history shows the last runs. unlock clears a stale lock after showing
// what it said, appends a record saying who cleared it to the failed run's
// log, and refuses a lock a running job holds.
//
// # Several hosts
//
// With --pg DSN (or PIGGING_PG_DSN, which keeps the password out of the
// process list) run, status, history and unlock use the job's lock in
// PostgreSQL (package pglock) instead of a lock file, so that a job
// scheduled on several hosts runs once and its failure blocks them all.
//
// # Signals
//
// SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded to CMD's process group,
// followed by SIGCONT; after the grace period (--grace, 10 s by default) the
// group is killed, and a second SIGINT or SIGTERM kills it at once. The run
// then ends as cancelled and keeps its lock with status "cancellation".
// Processes CMD left running in its group when it exited get SIGTERM, then
// SIGKILL after --grace (--keep-children leaves them). SIGKILL cannot be caught: CMD inherits the lock, which stays
// held while CMD or a process it started lives, and on Linux CMD gets
// SIGTERM when pigging dies. A reader of pigging's output that stops
// reading never holds the run's end: 2 s after CMD exited, passing the
// output through stops (the log keeps it). On Windows there are no process
// groups and no SIGTERM: see "pigging help run".
//
// # Tracing
//
// The exporter is chosen by the standard OpenTelemetry variables
// (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, ...), as
// github.com/pigging-go/pigging/otelpig reads them; spans are flushed before
// pigging exits. TRACEPARENT in pigging's own environment makes the run a
// child of the caller's span.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Exit statuses of pigging itself; any other status is the command's.
const (
	exitOK       = 0
	exitUsage    = 2   // bad command line
	exitLocked   = 75  // EX_TEMPFAIL: another run holds the lock, or a previous one left it
	exitTimeout  = 124 // --timeout ended the run, as timeout(1) reports it
	exitInternal = 125 // pigging could not do its own part (log or lock file)
	exitNoExec   = 126 // the command was found but could not be started
	exitNotFound = 127 // the command was not found
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the pigging command line args (without the program name) and
// returns the process's exit status. Everything it starts has finished, and
// the trace has been flushed, when it returns.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: &syncWriter{w: stderr}}
	return c.main(args)
}

// cli is one invocation of the command: its standard streams, and the
// tracer provider to use instead of the one otelpig.Setup builds from the
// environment (tests set it).
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	tp     trace.TracerProvider
}

// A command is one subcommand of pigging.
type command struct {
	name     string
	synopsis string // its command line, for the overview
	summary  string
	main     func(c *cli, args []string) int
}

// commands are the subcommands, in the order help lists them. A new
// subcommand is one more entry here, with its own flag set.
var commands = []command{
	{
		name:     "run",
		synopsis: "pigging run [--name JOB] [--log FILE] [--lock FILE | --pg DSN] [--take-over] [--wait D] [--timeout D] [--grace D] [--quiet] [--keep-children] [--ping URL] [--] CMD [ARG...]",
		summary:  "run a command as a pigging job: lock, log, trace",
		main:     (*cli).runCommand,
	},
	{
		name:     "status",
		synopsis: "pigging status [--name JOB | --lock FILE] [--pg DSN] [--json] [--max-age D] [--max-runtime D] [--every CRON [--grace D]]",
		summary:  "show a job's lock (exit 0 free, 1 running, 2 stale), last success and failure; check it",
		main:     (*cli).statusCommand,
	},
	{
		name:     "history",
		synopsis: "pigging history [--name JOB | --lock FILE] [--pg DSN] [-n N] [--json]",
		summary:  "show a job's last runs: result, start, duration, records, error",
		main:     (*cli).historyCommand,
	},
	{
		name:     "version",
		synopsis: "pigging version (or pigging --version)",
		summary:  "print pigging's version and the Go version it was built with",
		main:     (*cli).versionCommand,
	},
	{
		name:     "unlock",
		synopsis: "pigging unlock [--name JOB | --lock FILE] [--pg DSN]",
		summary:  "clear a stale lock after reading the failed run's log",
		main:     (*cli).unlockCommand,
	},
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// main dispatches args to a subcommand.
func (c *cli) main(args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		return c.help(args[1:])
	case "-version", "--version":
		return c.versionCommand(args[1:])
	default:
		cmd := findCommand(name)
		if cmd == nil {
			fmt.Fprintf(c.stderr, "pigging: unknown command %q\n\n", name)
			c.usage(c.stderr)
			return exitUsage
		}
		return cmd.main(c, args[1:])
	}
}

// help prints the overview, or one subcommand's usage, on stdout.
func (c *cli) help(args []string) int {
	if len(args) == 0 {
		c.usage(c.stdout)
		return exitOK
	}
	cmd := findCommand(args[0])
	if cmd == nil {
		fmt.Fprintf(c.stderr, "pigging: unknown command %q\n\n", args[0])
		c.usage(c.stderr)
		return exitUsage
	}
	return cmd.main(c, []string{"--help"})
}

// usage writes the overview of the subcommands to w.
func (c *cli) usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("pigging keeps batch jobs honest: one run at a time, a log of the latest run,\n")
	b.WriteString("and a trace of every run.\n\nUsage:\n\n")
	b.WriteString("  pigging <command> [flags] [arguments]\n\nCommands:\n\n")
	for _, cmd := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", cmd.name, cmd.summary)
	}
	b.WriteString("  help     show this, or a command's flags and defaults (pigging help run)\n\n")
	for _, cmd := range commands {
		fmt.Fprintf(&b, "  %s\n", cmd.synopsis)
	}
	_, _ = io.WriteString(w, b.String())
}
