package main

import "fmt"

// bSeq is the prefix of the counted-sequence benchmarks, followed by the
// loop: parse or cheap. Each reports, as medians over its iterations, in
// which every variant runs side by side: ns/record-unwrapped,
// ns/record-counted and ns/record-forward (the loop unwrapped, through
// LoadSeq, and through one more function call per record),
// x-counted/unwrapped, ns/record-added, ns/record-forward-added and
// allocs/record.
const bSeq = "./middleware:BenchmarkSeq/"

// Targets of the counted sequences.
const (
	seqParseLimit = 1.2 // counted against unwrapped, per record
	seqMaxAllocs  = 0   // allocations per record
)

// seqRows reports the counted sequences: LoadSeq over a job's own struct
// against the same loop unwrapped, per record.
//
//   - parse: a loop that parses one number with strconv, a little real
//     work. The target is the ratio of the costs per record, judged on
//     the median of the rounds, shown with their range, and no allocation
//     per record.
//   - cheap: a loop that only adds a field. The ratio means little there
//     (the loop itself costs about a function call); the row shows the
//     nanoseconds the count adds per record beside those of one more
//     function call per record, the floor of any wrapper that sees each
//     item, and is judged on allocations only.
func seqRows(res results, verdict func(bool) string) []row {
	const (
		parseWhat   = "`LoadSeq` over 10,000 records of a job's own struct, the loop parsing one number with `strconv` (recording span), per record"
		cheapWhat   = "the same with the cheapest loop (adds one field), per record"
		cheapTarget = "0 allocs/record; the ns added shown (floor: one more function call per record)"
	)
	parseTarget := fmt.Sprintf("≤ %.1f× the same loop unwrapped, 0 allocs/record", seqParseLimit)
	med := func(loop, unit string) float64 { v, _ := res.median(bSeq+loop, unit); return v }
	var rows []row

	var ratios []float64
	for _, s := range res.samples[bSeq+"parse"] {
		if v, ok := s["x-counted/unwrapped"]; ok {
			ratios = append(ratios, v)
		}
	}
	if s, ok := spreadOf(ratios); ok {
		a := med("parse", "allocs/record")
		m := fmt.Sprintf("%s (%.1f ns vs %.1f ns per record: adds %.1f ns; one more function call adds %.1f ns), %.3g allocs/record",
			s, med("parse", "ns/record-counted"), med("parse", "ns/record-unwrapped"),
			med("parse", "ns/record-added"), med("parse", "ns/record-forward-added"), a)
		rows = append(rows, row{parseWhat, m, parseTarget, verdict(s.median <= seqParseLimit && a <= seqMaxAllocs)})
	} else {
		rows = append(rows, row{parseWhat, notMeasured, parseTarget, "-"})
	}

	if _, ok := res.median(bSeq+"cheap", "ns/record-added"); ok {
		a := med("cheap", "allocs/record")
		m := fmt.Sprintf("adds %.2f ns per record (%.2f ns vs %.2f ns); one more function call adds %.2f ns; %.3g allocs/record",
			med("cheap", "ns/record-added"), med("cheap", "ns/record-counted"), med("cheap", "ns/record-unwrapped"),
			med("cheap", "ns/record-forward-added"), a)
		rows = append(rows, row{cheapWhat, m, cheapTarget, verdict(a <= seqMaxAllocs)})
	} else {
		rows = append(rows, row{cheapWhat, notMeasured, cheapTarget, "-"})
	}
	return rows
}
