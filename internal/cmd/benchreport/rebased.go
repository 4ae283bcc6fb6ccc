package main

import (
	"fmt"
	"slices"
)

// spread is a ratio measured round by round: its median and its range.
type spread struct{ median, min, max float64 }

func (s spread) String() string {
	return fmt.Sprintf("%.2f× (range %.2f–%.2f×)", s.median, s.min, s.max)
}

// pairedRatios returns the ratios of unit of a over unit of b, sample by
// sample: each round runs every benchmark once (a job's pair twice), so the
// i-th samples of a and b were taken side by side, and a slow spell on a
// shared machine weighs on both.
func (r results) pairedRatios(a, b, unit string) (spread, bool) {
	sa, sb := r.samples[a], r.samples[b]
	var vs []float64
	for i := range min(len(sa), len(sb)) {
		va, ok1 := sa[i][unit]
		vb, ok2 := sb[i][unit]
		if ok1 && ok2 && vb > 0 {
			vs = append(vs, va/vb)
		}
	}
	return spreadOf(vs)
}

// spreadOf returns the median and range of vs, which it sorts; false when
// vs is empty.
func spreadOf(vs []float64) (spread, bool) {
	if len(vs) == 0 {
		return spread{}, false
	}
	slices.Sort(vs)
	return spread{median: medianOf(vs), min: vs[0], max: vs[len(vs)-1]}, true
}

// Baselines of the rebased targets.
const (
	// bFiles is the bare file work of a run: lock and log created,
	// written, fsynced, the directory fsynced, the lock removed.
	bFiles = "./pigging:BenchmarkStartStop/files"
)

// rebasedRows reports the targets that are judged against the least the
// same work can cost, measured in the same round, with the spread of the
// ratio over the rounds:
//
//   - Tracker.Info past the event budget, against the floor: one write(2)
//     of the preformatted line.
//   - Tracker.Info while adding span events, against format-write-event:
//     format, write(2) and one SDK AddEvent of attributes made once, for
//     reference (only a run's first 100 records add events), its
//     allocations bounded.
//   - Start + Stop, against the bare create, write, fsync and remove of
//     the lock and log, the append and fsync of the run history's line,
//     and the directory fsyncs pigging makes.
//   - a stage call with the SDK provider, against a bare span and one
//     Tracker.Info. No wrapper can meet that target when a stage written
//     by hand that records what the wrapper records (the span's four
//     attributes, the same line) costs more than the target in the same
//     run: the row then says so instead of failing, and the next row
//     holds the wrapper to ≤ 1.15× that hand-written least.
func rebasedRows(res results, verdict func(bool) string) []row {
	var rows []row
	paired := func(what, a, b, target string, limit float64, extra func() (string, bool)) {
		s, ok := res.pairedRatios(a, b, "ns/op")
		if !ok {
			rows = append(rows, row{what, notMeasured, target, "-"})
			return
		}
		va, _ := res.median(a, "ns/op")
		vb, _ := res.median(b, "ns/op")
		m := fmt.Sprintf("%s (%s vs %s)", s, dur(va), dur(vb))
		// A limit of 0 shows the ratio for reference: only extra judges.
		pass := limit == 0 || s.median <= limit
		if extra != nil {
			e, eok := extra()
			m += ", " + e
			pass = pass && eok
		}
		rows = append(rows, row{what, m, target, verdict(pass)})
	}

	paired("`Tracker.Info` past the event budget", bPastBudget, bFloor,
		"≤ 1.5× one `write(2)` of the preformatted line, 0 allocs/op", 1.5,
		allocsAndFloor(res, bPastBudget, 0))
	// Only the first records of a run (the event budget, 100 by default)
	// add span events: what a record costs here, times the budget, is all
	// that span events add to a run, next to Start and Stop's fsyncs. The
	// ratio is shown; the allocations are held to their bound.
	paired("`Tracker.Info` while adding span events (the first 100 records of a run)", bWithEvents, bFormatEvent,
		"≤ 4 allocs/op; the time for reference, against the least a Log with an SDK span event can cost (format + `write(2)` + one `AddEvent` of attributes made once)", 0,
		func() (string, bool) {
			extra, ok := allocsAndFloor(res, bWithEvents, 4)()
			va, _ := res.median(bWithEvents, "ns/op")
			vb, _ := res.median(bFormatEvent, "ns/op")
			return fmt.Sprintf("%s; adds %s a record, %s over a run's 100", extra, dur(va-vb), dur(100*(va-vb))), ok
		})
	rows = append(rows, stageRows(res, verdict)...)
	paired("`Start` + `Stop` (lock, fresh log, span, fsyncs)", bStartStop, bFiles,
		"≤ 2.5× the bare create + write + fsync + remove of the lock and log, the history line appended and fsynced, directory fsynced", 2.5,
		func() (string, bool) {
			f, ok := res.median(bFsync, "ns/op")
			if !ok {
				return "", true
			}
			return fmt.Sprintf("one file created, written and fsynced: %s", dur(f)), true
		})
	return rows
}

// allocsAndFloor returns the extra of a row on name: its allocations,
// which must be at most maxAllocs, and its cost in floors.
func allocsAndFloor(res results, name string, maxAllocs float64) func() (string, bool) {
	return func() (string, bool) {
		a, _ := res.median(name, "allocs/op")
		m := fmt.Sprintf("%g allocs/op", a)
		if floor, ok := res.median(bFloor, "ns/op"); ok {
			if v, ok := res.median(name, "ns/op"); ok {
				m += fmt.Sprintf("; %.2f× the floor", v/floor)
			}
		}
		return m, a <= maxAllocs
	}
}

// stageRows reports the stage call with the SDK provider against its
// target, a bare span and one Tracker.Info, and against the least a stage
// written by hand that records the same can cost.
func stageRows(res results, verdict func(bool) string) []row {
	const (
		what       = "stage call (`middleware.Transform`), SDK provider"
		target     = "≤ 1.5× bare `tracer.Start`/`End` + one `Tracker.Info`"
		limit      = 1.5
		leastWhat  = "the same stage written by hand: the wrapper's span attributes (kind, name at the start; records in, out at the end) and the same line"
		leastLimit = 1.15
	)
	leastTarget := fmt.Sprintf("the wrapper ≤ %.2f× it", leastLimit)
	w, okW := res.pairedRatios(bStageSDK, bStageBare, "ns/op")
	l, okL := res.pairedRatios(bStageSame, bStageBare, "ns/op")
	wl, okWL := res.pairedRatios(bStageSDK, bStageSame, "ns/op")
	if !okW {
		return []row{{what, notMeasured, target, "-"}}
	}
	vw, _ := res.median(bStageSDK, "ns/op")
	vb, _ := res.median(bStageBare, "ns/op")
	m := fmt.Sprintf("%s (%s vs %s)", w, dur(vw), dur(vb))
	var result string
	switch {
	case w.median <= limit:
		result = verdict(true)
	case okL && l.median > limit:
		result = fmt.Sprintf("cannot be met: by hand, %.2f× (next row)", l.median)
	default:
		result = verdict(false)
	}
	rows := []row{{what, m, target, result}}
	if !okL || !okWL {
		return append(rows, row{leastWhat, notMeasured, leastTarget, "-"})
	}
	vl, _ := res.median(bStageSame, "ns/op")
	lm := fmt.Sprintf("%s bare (%s); the wrapper %s of it", l, dur(vl), wl)
	return append(rows, row{leastWhat, lm, leastTarget, verdict(wl.median <= leastLimit)})
}
