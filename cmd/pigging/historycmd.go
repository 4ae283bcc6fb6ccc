package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pigging-go/pigging/pigging"
)

// traceURLEnv names the variable that turns a trace id into a link: its
// value with {trace_id} replaced, e.g.
// http://localhost:16686/trace/{trace_id} for Jaeger.
const traceURLEnv = "PIGGING_TRACE_URL"

const historyUsage = `Usage: pigging history [--name JOB | --lock FILE] [--pg DSN] [-n N] [--json]

Shows a job's last runs, newest first: how each ended (success, failure,
error, timeout, cancellation, or skip for a start the lock refused), when it
started, how long it took, the records its stages took in and gave out, its
exit status and its error. The lock file keeps the history beside itself
(JOB.lock.history); with --pg, the runs table in PostgreSQL has it.

With $` + traceURLEnv + ` set to a trace viewer's address with {trace_id} in it
(http://localhost:16686/trace/{trace_id} for Jaeger), each run's trace link
is shown.

Exit status: 0, 64 bad usage, 125 when the history cannot be read.

`

// historyCommand is "pigging history".
func (c *cli) historyCommand(args []string) int {
	lc := newLockCommand("history", true)
	n := lc.fs.Int("n", 20, "show the last `N` runs (0: all the history keeps)")
	t, code, ok := c.parseLockCommand(lc, historyUsage, args)
	if !ok {
		return code
	}
	if *n < 0 {
		return c.lockUsage("history", "-n takes a number of runs, 0 or more")
	}
	runs, err := t.runs(context.Background(), *n)
	if err != nil {
		fmt.Fprintf(c.stderr, "pigging history: %s\n", errText(err))
		return exitInternal
	}
	traceURL := os.Getenv(traceURLEnv)
	if lc.asJSON {
		type entry struct {
			pigging.RunEntry
			TraceURL string `json:"trace_url,omitempty"`
		}
		out := make([]entry, len(runs))
		for i, e := range runs {
			out[i] = entry{e, traceLink(traceURL, e.TraceID)}
		}
		c.printJSON(out)
		return exitOK
	}
	if len(runs) == 0 {
		fmt.Fprintf(c.stdout, "%s: no run in its history\n", t.locker)
		return exitOK
	}
	fmt.Fprint(c.stdout, historyTable(runs, traceURL))
	return exitOK
}

// historyTable lays runs out as a table, one row a run.
func historyTable(runs []pigging.RunEntry, traceURL string) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprint(w, "RESULT\tSTARTED\tDURATION\tRECORDS\tEXIT\tHOST\tERROR")
	if traceURL != "" {
		fmt.Fprint(w, "\tTRACE")
	}
	fmt.Fprintln(w)
	for _, e := range runs {
		exit := "-"
		if e.ExitCode != nil {
			exit = strconv.Itoa(*e.ExitCode)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s", e.Result, e.Started.UTC().Format(time.RFC3339),
			seconds(e.Duration), records(e.Stages), exit, e.Host, cell(e.Error))
		if traceURL != "" {
			fmt.Fprintf(w, "\t%s", traceLink(traceURL, e.TraceID))
		}
		fmt.Fprintln(w)
	}
	_ = w.Flush()
	return b.String()
}

// records says what a run's stages counted: the records its extract
// stages gave out and its load stages took in ("4000 extracted, 300
// loaded"), or, for a job without those kinds, all stages' records in and
// out; "-" when no stage counted any.
func records(stages []pigging.StageTotal) string {
	var extracted, loaded, in, out int64
	var hasExtract, hasLoad bool
	for _, s := range stages {
		in += s.In
		out += s.Out
		switch s.Kind {
		case "extract":
			extracted += s.Out
			hasExtract = true
		case "load":
			loaded += s.In
			hasLoad = true
		}
	}
	var parts []string
	if hasExtract {
		parts = append(parts, fmt.Sprintf("%d extracted", extracted))
	}
	if hasLoad {
		parts = append(parts, fmt.Sprintf("%d loaded", loaded))
	}
	switch {
	case len(parts) > 0:
		return strings.Join(parts, ", ")
	case len(stages) > 0:
		return fmt.Sprintf("%d in, %d out", in, out)
	}
	return "-"
}

// cell returns an error's first line, cut to fit a table row.
func cell(s string) string {
	s = firstLine(s)
	const most = 80
	if len(s) > most {
		cut := most
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	s = strings.ReplaceAll(s, "\t", " ")
	if s == "" {
		return "-"
	}
	return s
}

// utf8Start reports whether b begins a UTF-8 sequence.
func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// traceLink returns the trace viewer's address of traceID, or "" without
// one of them.
func traceLink(url, traceID string) string {
	if url == "" || traceID == "" {
		return ""
	}
	return strings.ReplaceAll(url, "{trace_id}", traceID)
}
