package main

import (
	"fmt"
	"strconv"
)

// jobBench is a benchmark of a whole job with two sub-benchmarks, bare and
// pigging, run in each round after pkgs, with its own -benchtime when
// benchtime is set.
//
// A job runs for seconds, long enough for the load of a shared machine to
// change between two runs. So each round runs the pair twice, in turn:
// bare, pigging, pigging, bare. Each side then has two samples a round,
// and the i-th of one was taken next to the i-th of the other, once before
// it and once after.
type jobBench struct {
	pkg
	benchtime string
}

// jobOrder is the order of the sub-benchmarks in each round.
var jobOrder = []string{"bare", "pigging", "pigging", "bare"}

// jobRowsN is the size of the job on generated orders: BenchmarkJobRows
// runs one job of b.N orders.
const jobRowsN = 1_000_000

var jobBenches = []jobBench{
	{pkg{"./examples/etl", "^BenchmarkJob$"}, ""},
	{pkg{"./examples/etl", "^BenchmarkJobRows$"}, strconv.Itoa(jobRowsN) + "x"},
}

// allPkgs returns every package whose benchmarks the report runs, each once.
func allPkgs() []pkg {
	all := append([]pkg(nil), pkgs...)
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.path] = true
	}
	var more []pkg
	for _, j := range jobBenches {
		more = append(more, j.pkg)
	}
	for _, c := range connectBenches {
		more = append(more, c.pkg)
	}
	for _, p := range more {
		if !seen[p.path] {
			seen[p.path] = true
			all = append(all, p)
		}
	}
	return all
}

// runJobBenches runs the job benchmarks once each, with the test binaries
// in bins.
func runJobBenches(res *results, bins map[string]string, o options) error {
	for _, j := range jobBenches {
		bin := bins[j.path]
		if bin == "" {
			continue
		}
		bt := j.benchtime
		if bt == "" {
			bt = o.benchtime
		}
		if err := runInTurns(res, bin, j.path, j.bench, jobOrder, bt, o.verbose); err != nil {
			return err
		}
	}
	return nil
}

// runInTurns runs the sub-benchmarks of bench named in order, each in a
// process of its own.
func runInTurns(res *results, bin, pkgPath, bench string, order []string, benchtime string, verbose bool) error {
	for _, sub := range order {
		if err := runBench(res, bin, pkgPath, bench+"/^"+sub+"$", benchtime, verbose); err != nil {
			return err
		}
	}
	return nil
}

// Whole-job benchmark names, as "<package>:<name>".
const (
	bJobSmallBare    = "./examples/etl:BenchmarkJob/bare"
	bJobSmallPigging = "./examples/etl:BenchmarkJob/pigging"
	bJobBigBare      = "./examples/etl:BenchmarkJobRows/bare"
	bJobBigPigging   = "./examples/etl:BenchmarkJobRows/pigging"
)

// jobLimit is the target of the job on a million orders: pigging's wall
// time and allocated bytes over the bare pipeline's.
const jobLimit = 1.03

// jobRows reports the example's job under pigging against the same
// functions called bare: wall time and allocated bytes, each the median of
// the ratios of the runs taken side by side, with their range. The million orders have a target;
// the 4,000 orders, where Start and Stop's fsyncs weigh most, are shown
// for scale.
func jobRows(res results, verdict func(bool) string) []row {
	var rows []row
	for _, j := range []struct {
		what, bare, pig string
		target          bool
	}{
		{"the example job (`examples/etl`), 1,000,000 generated orders streamed in", bJobBigBare, bJobBigPigging, true},
		{"the example job, the shipped 4,000 orders", bJobSmallBare, bJobSmallPigging, false},
	} {
		t, okT := res.pairedRatios(j.pig, j.bare, "ns/op")
		m, okM := res.pairedRatios(j.pig, j.bare, "B/op")
		target := "reference"
		if j.target {
			target = fmt.Sprintf("≤ %.2f× the bare pipeline's wall time and allocated bytes", jobLimit)
		}
		if !okT || !okM {
			rows = append(rows, row{j.what, notMeasured, target, "-"})
			continue
		}
		// Per job: BenchmarkJobRows reports per order.
		n := 1.0
		if j.target {
			n, _ = res.median(j.bare, "N")
		}
		bareNS, _ := res.median(j.bare, "ns/op")
		pigNS, _ := res.median(j.pig, "ns/op")
		bareB, _ := res.median(j.bare, "B/op")
		pigB, _ := res.median(j.pig, "B/op")
		measured := fmt.Sprintf("wall time %s (%s vs %s a job); allocated bytes %.4f× (%s vs %s)",
			t, jobDur(pigNS*n), jobDur(bareNS*n), m.median, mib(pigB*n), mib(bareB*n))
		if j.target {
			measured += jobEvidence(res, bareNS*n)
		}
		result := "-"
		if j.target {
			result = verdict(t.median <= jobLimit && m.median <= jobLimit)
		}
		rows = append(rows, row{j.what, measured, target, result})
	}
	return rows
}

// jobEvidence says, from the same run, how far the figure on a million
// orders can be trusted: how much the bare pipeline differs from itself
// between the two runs of a round, and what pigging adds to a job whatever
// its size (Start, Stop, four stage calls, a few records), taken from the
// 4,000-order pair, as a share of the bare million-order job (bigNS).
func jobEvidence(res results, bigNS float64) string {
	var e string
	if self, ok := res.selfRatios(bJobBigBare, "ns/op"); ok {
		e += fmt.Sprintf("; the bare job against itself, first and last run of a round: range %.2f–%.2f×", self.min, self.max)
	}
	if d, ok := res.pairedDiffs(bJobSmallPigging, bJobSmallBare, "ns/op"); ok && bigNS > 0 {
		e += fmt.Sprintf("; pigging's fixed cost a job (from the 4,000 orders): %s, %.2f%% of the million-order job", dur(d), 100*d/bigNS)
	}
	return e
}

// selfRatios returns the ratios, round by round, of the first sample of
// name to the second (jobOrder runs each side twice a round): the noise of
// the machine on one and the same work.
func (r results) selfRatios(name, unit string) (spread, bool) {
	ss := r.samples[name]
	var vs []float64
	for i := 0; i+1 < len(ss); i += 2 {
		a, ok1 := ss[i][unit]
		b, ok2 := ss[i+1][unit]
		if ok1 && ok2 && b > 0 {
			vs = append(vs, a/b)
		}
	}
	return spreadOf(vs)
}

// pairedDiffs returns the median of unit of a minus unit of b, sample by
// sample.
func (r results) pairedDiffs(a, b, unit string) (float64, bool) {
	sa, sb := r.samples[a], r.samples[b]
	var vs []float64
	for i := range min(len(sa), len(sb)) {
		va, ok1 := sa[i][unit]
		vb, ok2 := sb[i][unit]
		if ok1 && ok2 {
			vs = append(vs, va-vb)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	return medianOf(vs), true
}

// jobDur formats the nanoseconds of a job, in seconds from one second.
func jobDur(ns float64) string {
	if ns >= 1e9 {
		return fmt.Sprintf("%.2f s", ns/1e9)
	}
	return dur(ns)
}

// mib formats bytes in MiB, or KiB below one MiB.
func mib(b float64) string {
	if b >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", b/(1<<10))
}
