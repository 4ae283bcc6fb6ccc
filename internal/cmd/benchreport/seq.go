package main

import (
	"fmt"
	"strconv"
)

// bSeq is the prefix of the counted-sequence benchmarks, followed by
// loop "/" variant "-" records: loop parse or cheap, variant unwrapped,
// forward (cheap only) or wrapped, records seqRecords or 1.
const bSeq = "./middleware:BenchmarkSeq/"

// seqRecords is the length of BenchmarkSeq's long sequence.
const seqRecords = 100_000

// Targets of the counted sequences.
const (
	seqParseLimit = 1.2 // wrapped against unwrapped, per record
	seqMaxAllocs  = 0   // allocations per record
)

// perRecord returns, round by round, the cost per record of a variant of
// a BenchmarkSeq loop: the difference between its runs over seqRecords
// records and over 1, over seqRecords-1, which leaves the stage's fixed
// cost (the span) out. unit is "ns/op" or "allocs/op".
func (r results) perRecord(loop, variant, unit string) []float64 {
	many := r.samples[bSeq+loop+"/"+variant+"-"+strconv.Itoa(seqRecords)]
	one := r.samples[bSeq+loop+"/"+variant+"-1"]
	var vs []float64
	for i := range min(len(many), len(one)) {
		m, ok1 := many[i][unit]
		o, ok2 := one[i][unit]
		if ok1 && ok2 {
			vs = append(vs, (m-o)/(seqRecords-1))
		}
	}
	return vs
}

// perRecordMedian is the median of perRecord, and whether there was any.
func (r results) perRecordMedian(loop, variant, unit string) (float64, bool) {
	vs := r.perRecord(loop, variant, unit)
	if len(vs) == 0 {
		return 0, false
	}
	return medianOf(vs), true
}

// seqRows reports the counted sequences: LoadSeq over a job's own struct
// against the same loop unwrapped, in the same round, per record.
//
//   - parse: a loop that parses one number with strconv, a little real
//     work. The target is the ratio of the costs per record, judged on
//     the median of the ratios of the rounds, and no allocation per record.
//   - cheap: a loop that only adds a field. The ratio means little there
//     (the loop itself costs about a function call); the row shows the
//     nanoseconds the count adds per record beside those of one more
//     function call per record, the floor of any wrapper that sees each
//     item, and is judged on allocations only.
func seqRows(res results, verdict func(bool) string) []row {
	const (
		parseWhat   = "`LoadSeq` over 100,000 records of a job's own struct, the loop parsing one number with `strconv` (recording span), per record"
		cheapWhat   = "the same with the cheapest loop (adds one field), per record"
		cheapTarget = "0 allocs/record; the ns added shown (floor: one more function call per record)"
	)
	parseTarget := fmt.Sprintf("≤ %.1f× the same loop unwrapped, 0 allocs/record", seqParseLimit)
	var rows []row

	w := res.perRecord("parse", "wrapped", "ns/op")
	u := res.perRecord("parse", "unwrapped", "ns/op")
	var ratios []float64
	for i := range min(len(w), len(u)) {
		if u[i] > 0 {
			ratios = append(ratios, w[i]/u[i])
		}
	}
	a, okA := res.perRecordMedian("parse", "wrapped", "allocs/op")
	if s, ok := spreadOf(ratios); ok && okA {
		m := fmt.Sprintf("%s (%.1f ns vs %.1f ns per record), %.3g allocs/record", s, medianOf(w), medianOf(u), a)
		rows = append(rows, row{parseWhat, m, parseTarget, verdict(s.median <= seqParseLimit && a <= seqMaxAllocs)})
	} else {
		rows = append(rows, row{parseWhat, notMeasured, parseTarget, "-"})
	}

	cw, ok1 := res.perRecordMedian("cheap", "wrapped", "ns/op")
	cu, ok2 := res.perRecordMedian("cheap", "unwrapped", "ns/op")
	cf, ok3 := res.perRecordMedian("cheap", "forward", "ns/op")
	ca, ok4 := res.perRecordMedian("cheap", "wrapped", "allocs/op")
	if ok1 && ok2 && ok3 && ok4 {
		m := fmt.Sprintf("adds %.1f ns per record (%.1f ns vs %.1f ns); one more function call adds %.1f ns; %.3g allocs/record",
			cw-cu, cw, cu, cf-cu, ca)
		rows = append(rows, row{cheapWhat, m, cheapTarget, verdict(ca <= seqMaxAllocs)})
	} else {
		rows = append(rows, row{cheapWhat, notMeasured, cheapTarget, "-"})
	}
	return rows
}
