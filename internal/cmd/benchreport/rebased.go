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
//   - Tracker.Info while adding span events, against format-write-event:
//     format, write(2) and one SDK AddEvent of attributes made once.
//   - Start + Stop, against the bare create, write, fsync and remove of
//     the same two files, with the directory fsyncs pigging makes.
//   - a stage call with the SDK provider, against a bare span and one
//     Tracker.Info.
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
		pass := s.median <= limit
		if extra != nil {
			e, eok := extra()
			m += ", " + e
			pass = pass && eok
		}
		rows = append(rows, row{what, m, target, verdict(pass)})
	}

	paired("`Tracker.Info` while adding span events", bWithEvents, bFormatEvent,
		"≤ 1.15× the least a Log with an SDK span event can cost (format + `write(2)` + one `AddEvent` of attributes made once), ≤ 4 allocs/op", 1.15,
		func() (string, bool) {
			a, _ := res.median(bWithEvents, "allocs/op")
			m := fmt.Sprintf("%g allocs/op", a)
			if floor, ok := res.median(bFloor, "ns/op"); ok {
				if v, ok := res.median(bWithEvents, "ns/op"); ok {
					m += fmt.Sprintf("; %.2f× the floor", v/floor)
				}
			}
			return m, a <= 4
		})
	paired("stage call (`middleware.Transform`), SDK provider", bStageSDK, bStageBare,
		"≤ 1.5× bare `tracer.Start`/`End` + one `Tracker.Info`", 1.5, nil)
	paired("`Start` + `Stop` (lock, fresh log, span, fsyncs)", bStartStop, bFiles,
		"≤ 2.5× the bare create + write + fsync + remove of the lock and log, directory fsynced", 2.5,
		func() (string, bool) {
			f, ok := res.median(bFsync, "ns/op")
			if !ok {
				return "", true
			}
			return fmt.Sprintf("one file created, written and fsynced: %s", dur(f)), true
		})
	return rows
}
