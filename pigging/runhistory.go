package pigging

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/runctx"
)

// stageTotals sums what each stage of a run counted, for its history
// entry.
type stageTotals struct {
	mu   sync.Mutex
	list []StageTotal
}

// maxStageTotals bounds the stages a run's entry lists: a job that makes
// stage names from its data would otherwise grow it without end.
const maxStageTotals = 64

// add counts one ended stage call.
func (s *stageTotals) add(e *runctx.StageEnd) {
	kind, name := "stage", ""
	if e.Stage != nil {
		kind, name = e.Stage.Kind, e.Stage.Name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	for i < len(s.list) && (s.list[i].Kind != kind || s.list[i].Name != name) {
		i++
	}
	if i == len(s.list) {
		if i == maxStageTotals {
			return
		}
		s.list = append(s.list, StageTotal{Kind: kind, Name: name})
	}
	t := &s.list[i]
	t.In += e.In
	t.Out += e.Out
	t.Calls++
	if e.Err != nil {
		t.Failed++
	}
}

// snapshot returns a copy of the totals.
func (s *stageTotals) snapshot() []StageTotal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StageTotal(nil), s.list...)
}

// history returns where the run history goes: the Locker, when it keeps
// one and the history is on; nil otherwise. The lock file's history is
// named by its absolute path, resolved now, so that a run that changes
// its working directory still writes it beside the lock.
func (t *Tracker) history() History {
	if t.cfg.history <= 0 {
		return nil
	}
	if fl, ok := t.locker.(*fileLocker); ok {
		abs, err := filepath.Abs(fl.path)
		if err != nil {
			return nil
		}
		return &fileLocker{path: abs, mode: fl.mode}
	}
	h, _ := t.locker.(History)
	return h
}

// appendHistory adds e to h, when there is a history. It returns the
// error of a history that could not be written; the run's outcome never
// depends on it.
func (t *Tracker) appendHistory(ctx context.Context, h History, e *RunEntry) error {
	if h == nil {
		return nil
	}
	return h.AppendRun(ctx, e, t.cfg.history)
}

// historyEntry is the entry of the run that ends as e says.
func (r *run) historyEntry(e *runEnd) *RunEntry {
	entry := &RunEntry{
		Job:      r.info.Job,
		Host:     r.info.Host,
		PID:      r.info.PID,
		Started:  r.started,
		Ended:    e.time,
		Duration: e.dur.Seconds(),
		Result:   e.state,
		TraceID:  r.info.TraceID,
		SpanID:   r.info.SpanID,
		Log:      r.logAbs,
		Stages:   r.stages.snapshot(),
	}
	r.failMu.Lock()
	entry.ExitCode, entry.ExitSource = r.info.ExitCode, r.info.ExitSource
	r.failMu.Unlock()
	if e.state != StateSuccess && e.failure != nil {
		entry.Error = errtype.Message(e.failure)
	}
	return entry
}

// recordHistory adds the ending run to the history; a history that could
// not be written is a WARN record in the run's log. The caller holds r.mu
// alone, before TOTAL SCRIPT TIME is written.
func (r *run) recordHistory(ctx context.Context, e *runEnd) {
	if err := r.t.appendHistory(ctx, r.history, r.historyEntry(e)); err != nil {
		r.record(&record{time: time.Now(), level: slog.LevelWarn, own: true,
			msg: "The run history was not written (the run's outcome is unchanged): " + errtype.Message(err)}, fields{})
	}
}

// refusedEntry is the history entry of a start the lock refused.
func (t *Tracker) refusedEntry(started, ended time.Time, sc trace.SpanContext, logAbs string, lerr *LockError) *RunEntry {
	host, _ := os.Hostname()
	traceID, spanID := spanIDs(sc)
	return &RunEntry{
		Job:      t.cfg.name,
		Host:     host,
		PID:      os.Getpid(),
		Started:  started,
		Ended:    ended,
		Duration: ended.Sub(started).Seconds(),
		Result:   StateSkip,
		Error:    strings.TrimPrefix(errtype.Message(lerr), "pigging: "),
		TraceID:  traceID,
		SpanID:   spanID,
		Log:      logAbs,
	}
}

// recordRefusal adds a refused start to the history; a history that
// could not be written is reported on stderr, as a record that could not
// be written to the log is.
func (t *Tracker) recordRefusal(ctx context.Context, e *RunEntry) {
	if err := t.appendHistory(ctx, t.history(), e); err != nil {
		rec := record{time: time.Now(), level: slog.LevelWarn, own: true, msg: "The run history was not written"}
		writeStderrLine("", rec.format(nil, nil, fields{}), err)
	}
}

// spanIDs returns the trace and span ids of sc as hex, or "" for a span
// that is not recorded anywhere.
func spanIDs(sc trace.SpanContext) (traceID, spanID string) {
	if !sc.IsValid() {
		return "", ""
	}
	return sc.TraceID().String(), sc.SpanID().String()
}
