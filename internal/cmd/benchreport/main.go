// Command benchreport runs pigging's benchmarks and prints the performance
// targets of the project as a table of ratios, each measured against its
// baseline in the same run, with pass or fail per target.
//
// Run it from the module root:
//
//	go run ./internal/cmd/benchreport            # 5 rounds, 1s per benchmark
//	go run ./internal/cmd/benchreport -count 10 -strict
//	go run ./internal/cmd/benchreport -pkg ./middleware -python=false
//
// It builds the test binaries of ./pigging, ./middleware, ./cmd/pigging,
// ./examples/etl and ./connect once, then runs every benchmark -count
// times, one round after another (each round runs every benchmark once),
// so that a slow spell on a shared machine hits a benchmark and its
// baseline alike. Each figure is the median of the rounds; the rebased
// targets, the whole job and the connectors are judged on the median of
// the ratios of samples taken side by side, shown with their range
// (job.go runs a job's pair twice a round, connect.go a connector's). The
// memory benchmark runs with -benchtime 1000000x: one run of a million
// calls per round; the job on generated orders too: one job of a million
// orders; the connectors load a million rows and extract ten million, the
// PostgreSQL ones only when PIGGING_PG_DSN is set.
//
// When python3 is on the PATH it also times the Python original's logging
// call (python_tracker_log.py) and shows it against the Go floor.
//
// With -pkg, only the benchmarks of the packages named run (the rows of
// the others say not measured): to measure one part again without the
// rest.
//
// It exits with status 1 when a target fails only with -strict, so that
// the report stays informative on a machine that is busy.
package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed python_tracker_log.py
var pythonScript []byte

// pkg is a package whose benchmarks the report runs.
type pkg struct {
	path  string // import path relative to the module root, "./pigging"
	bench string // -test.bench pattern of the timed benchmarks
}

var pkgs = []pkg{
	{"./pigging", "^Benchmark(Info|Logger|Concurrent|Span|StartStop)$"},
	{"./middleware", "^Benchmark(Transform|Seq)$"},
	// The whole command (a child printing through pigging run) is left to
	// its own benchmark run: it shares the machine with the child.
	{"./cmd/pigging", "^BenchmarkPump$/^(floor|pump)$"},
}

// memBench is run apart, with a fixed count of calls.
const (
	memPkg       = "./pigging"
	memBench     = "^BenchmarkMemory$"
	memBenchtime = "1000000x"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(2)
	}
}

type options struct {
	count     int
	benchtime string
	strict    bool
	python    bool
	verbose   bool
	only      map[string]bool // with -pkg: the packages to run; nil for all
}

// runs tells whether the benchmarks of the package at path are to run.
func (o options) runs(path string) bool { return o.only == nil || o.only[path] }

func run() error {
	var o options
	flag.IntVar(&o.count, "count", 5, "rounds: each benchmark runs this many times; figures are medians")
	flag.StringVar(&o.benchtime, "benchtime", "1s", "-benchtime of the timed benchmarks")
	flag.BoolVar(&o.strict, "strict", false, "exit with status 1 when a target fails")
	flag.BoolVar(&o.python, "python", true, "time the Python original when python3 is available")
	flag.BoolVar(&o.verbose, "v", false, "print the raw benchmark output on stderr")
	only := flag.String("pkg", "", "run only the benchmarks of these packages, comma-separated (./middleware,./pigging)")
	flag.Parse()
	if *only != "" {
		o.only = map[string]bool{}
		for _, p := range strings.Split(*only, ",") {
			o.only[strings.TrimSpace(p)] = true
		}
	}
	if o.count < 1 {
		return errors.New("-count must be at least 1")
	}

	tmp, err := os.MkdirTemp("", "benchreport-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Build each test binary once.
	bins := map[string]string{}
	var missing []string
	for _, p := range allPkgs() {
		if !o.runs(p.path) {
			continue
		}
		if !hasBenchmarks(p.path) {
			missing = append(missing, p.path)
			continue
		}
		bin := filepath.Join(tmp, strings.Trim(strings.ReplaceAll(p.path, "/", "_"), "._")+".test")
		if out, err := exec.Command("go", "test", "-c", "-o", bin, p.path).CombinedOutput(); err != nil {
			return fmt.Errorf("building the tests of %s: %v\n%s", p.path, err, out)
		}
		bins[p.path] = bin
	}
	if bins[memPkg] == "" && o.runs(memPkg) {
		return fmt.Errorf("no benchmarks in %s", memPkg)
	}
	if len(bins) == 0 {
		return errors.New("no benchmarks to run")
	}

	res := results{}
	for round := 1; round <= o.count; round++ {
		fmt.Fprintf(os.Stderr, "round %d of %d\n", round, o.count)
		for _, p := range pkgs {
			if bin := bins[p.path]; bin != "" {
				if err := runBench(&res, bin, p.path, p.bench, o.benchtime, o.verbose); err != nil {
					return err
				}
			}
		}
		if err := runJobBenches(&res, bins, o); err != nil {
			return err
		}
		if err := runConnectBenches(&res, bins, o); err != nil {
			return err
		}
		if bin := bins[memPkg]; bin != "" {
			if err := runBench(&res, bin, memPkg, memBench, memBenchtime, o.verbose); err != nil {
				return err
			}
		}
	}

	var py *pythonResult
	pyNote := ""
	if !o.python {
		pyNote = "not measured (-python=false)"
	} else if !o.runs(memPkg) {
		pyNote = "not measured (-pkg)"
	} else if python, err := exec.LookPath("python3"); err != nil {
		pyNote = "not measured (no python3)"
	} else {
		fmt.Fprintln(os.Stderr, "timing the Python original")
		py, err = runPython(python, tmp, o.count)
		if err != nil {
			pyNote = "not measured (" + err.Error() + ")"
		}
	}

	failed := report(os.Stdout, res, o, py, pyNote, missing)
	if failed > 0 && o.strict {
		os.Exit(1)
	}
	return nil
}

// hasBenchmarks reports whether the package directory has a Benchmark.
func hasBenchmarks(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte("\nfunc Benchmark")) {
			return true
		}
	}
	return false
}

// sample is one line of benchmark output: its value per unit.
type sample map[string]float64

// results holds the samples of each benchmark, by name without the
// GOMAXPROCS suffix, plus the header lines (cpu, goos...).
type results struct {
	samples map[string][]sample
	header  map[string]string
}

func (r *results) add(name string, s sample) {
	if r.samples == nil {
		r.samples = map[string][]sample{}
	}
	r.samples[name] = append(r.samples[name], s)
}

var (
	benchLineRE = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.+)$`)
	headerRE    = regexp.MustCompile(`^(goos|goarch|cpu|pkg): (.+)$`)
)

// runBench runs the benchmarks matching pattern once each and records
// their samples under "<pkg>:<name>".
func runBench(res *results, bin, pkgPath, pattern, benchtime string, verbose bool) error {
	cmd := exec.Command(bin, "-test.run", "^$", "-test.bench", pattern, "-test.benchtime", benchtime, "-test.count", "1")
	cmd.Dir = pkgPath
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if verbose {
		os.Stderr.Write(out.Bytes())
	}
	if err != nil {
		return fmt.Errorf("benchmarks of %s failed: %v\n%s", pkgPath, err, out.Bytes())
	}
	parse(res, pkgPath, &out)
	return nil
}

func parse(res *results, pkgPath string, r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if m := headerRE.FindStringSubmatch(line); m != nil {
			if res.header == nil {
				res.header = map[string]string{}
			}
			res.header[m[1]] = m[2]
			continue
		}
		m := benchLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s := sample{}
		n, _ := strconv.ParseFloat(m[2], 64)
		s["N"] = n
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				s[f[i+1]] = v
			}
		}
		res.add(pkgPath+":"+m[1], s)
	}
}

// median returns the median of unit over the samples of name, and whether
// there were any.
func (r results) median(name, unit string) (float64, bool) {
	var vs []float64
	for _, s := range r.samples[name] {
		if v, ok := s[unit]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

// max returns the largest value of unit over the samples of name.
func (r results) max(name, unit string) float64 {
	m := 0.0
	for _, s := range r.samples[name] {
		m = max(m, s[unit])
	}
	return m
}

type pythonResult struct {
	TrackerLogNS []float64 `json:"tracker_log_ns"`
	OSWriteNS    []float64 `json:"os_write_ns"`
}

func runPython(python, tmp string, repeat int) (*pythonResult, error) {
	script := filepath.Join(tmp, "python_tracker_log.py")
	if err := os.WriteFile(script, pythonScript, 0o644); err != nil {
		return nil, err
	}
	out, err := exec.Command(python, script, "20000", strconv.Itoa(repeat)).Output()
	if err != nil {
		return nil, fmt.Errorf("python3: %v", err)
	}
	var pr pythonResult
	if err := json.Unmarshal(out, &pr); err != nil {
		return nil, fmt.Errorf("python3 output: %v", err)
	}
	return &pr, nil
}

func medianOf(vs []float64) float64 {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// Benchmark names, as "<package>:<name>".
const (
	bFloor       = "./pigging:BenchmarkInfo/floor"
	bPumpFloor   = "./cmd/pigging:BenchmarkPump/floor"
	bPump        = "./cmd/pigging:BenchmarkPump/pump"
	bFormat      = "./pigging:BenchmarkInfo/format-write"
	bFormatEvent = "./pigging:BenchmarkInfo/format-write-event"
	bPastBudget  = "./pigging:BenchmarkInfo/past-budget"
	bWithEvents  = "./pigging:BenchmarkInfo/with-events"
	bSlogText    = "./pigging:BenchmarkLogger/slog-text"
	bLogger      = "./pigging:BenchmarkLogger/logger"
	bOne         = "./pigging:BenchmarkConcurrent/1-goroutine"
	bMany        = "./pigging:BenchmarkConcurrent/64-goroutines"
	bSDKSpan     = "./pigging:BenchmarkSpan/sdk-bare"
	bSDKSpanInfo = "./pigging:BenchmarkSpan/sdk-info"
	bNoopSpan    = "./pigging:BenchmarkSpan/noop-bare"
	bAddEvent    = "./pigging:BenchmarkSpan/sdk-add-event"
	bFsync       = "./pigging:BenchmarkStartStop/fsync"
	bStartStop   = "./pigging:BenchmarkStartStop/start-stop"
	bMemDefault  = "./pigging:BenchmarkMemory/default-limit"
	bMemUnlim    = "./pigging:BenchmarkMemory/unlimited"
	bStageBare   = "./middleware:BenchmarkTransform/sdk/bare"
	bStageSDK    = "./middleware:BenchmarkTransform/sdk/wrapped"
	bStageSame   = "./middleware:BenchmarkTransform/sdk/same-fields"
	bNoopBare    = "./middleware:BenchmarkTransform/noop/bare"
	bStageNoop   = "./middleware:BenchmarkTransform/noop/wrapped"
)

// row is one line of the table.
type row struct {
	what, measured, target, result string
}

const notMeasured = "not measured (no benchmark)"

func report(w io.Writer, res results, o options, py *pythonResult, pyNote string, missing []string) (failed int) {
	ns := func(name string) (float64, bool) { return res.median(name, "ns/op") }
	allocs := func(name string) float64 { v, _ := res.median(name, "allocs/op"); return v }
	verdict := func(ok bool) string {
		if ok {
			return "pass"
		}
		failed++
		return "**FAIL**"
	}
	var rows []row

	// ratio adds a row "what: a / b ≤ limit" (or ≥ when atLeast).
	ratio := func(what, a, b, target string, limit float64, extra func() (string, bool)) {
		va, ok1 := ns(a)
		vb, ok2 := ns(b)
		if !ok1 || !ok2 {
			rows = append(rows, row{what, notMeasured, target, "-"})
			return
		}
		r := va / vb
		m := fmt.Sprintf("%.2f× (%s vs %s)", r, dur(va), dur(vb))
		ok := r <= limit
		if extra != nil {
			e, eok := extra()
			m += ", " + e
			ok = ok && eok
		}
		rows = append(rows, row{what, m, target, verdict(ok)})
	}

	ratio("`Logger().Info` (slog path)", bLogger, bSlogText, "≤ 1.5× `slog.TextHandler`", 1.5, nil)
	ratio("stage call, noop provider, no Tracker", bStageNoop, bNoopBare, "≤ 2× a bare noop span", 2, nil)
	ratio("a line through `pigging run`'s pump (pipe read, pass-through, record)", bPump, bPumpFloor, "≤ 1.5× one `write(2)` of its record", 1.5, nil)

	rows = append(rows, seqRows(res, verdict)...)
	// Throughput is 1/(ns/op); the target is many/one ≥ 0.8.
	if one, ok1 := ns(bOne); !ok1 {
		rows = append(rows, row{"64 goroutines logging at once", notMeasured, "", "-"})
	} else if many, ok2 := ns(bMany); !ok2 {
		rows = append(rows, row{"64 goroutines logging at once", notMeasured, "", "-"})
	} else {
		r := one / many
		torn := res.max(bMany, "torn-lines") + res.max(bOne, "torn-lines")
		m := fmt.Sprintf("%.2f× single-goroutine throughput (%s vs %s per line), %g torn lines", r, dur(many), dur(one), torn)
		rows = append(rows, row{"64 goroutines logging at once", m, "no line torn; ≥ 0.8× single-goroutine throughput", verdict(r >= 0.8 && torn == 0)})
	}

	for _, mb := range []struct{ name, what string }{
		{bMemDefault, "1,000,000 `Info` calls, SDK event limit at default"},
		{bMemUnlim, "1,000,000 `Info` calls, SDK event limit unlimited"},
	} {
		med, ok := res.median(mb.name, "heap-MiB")
		n, _ := res.median(mb.name, "N")
		if !ok {
			rows = append(rows, row{mb.what, notMeasured, "heap growth < 16 MiB", "-"})
			continue
		}
		hi := res.max(mb.name, "heap-MiB")
		m := fmt.Sprintf("heap growth %.2f MiB (max %.2f) over %s calls, %g allocs/call", med, hi, strconv.FormatFloat(n, 'f', 0, 64), allocs(mb.name))
		rows = append(rows, row{mb.what, m, "heap growth < 16 MiB", verdict(med < 16 && n >= 1e6)})
	}

	rows = append(rows, rebasedRows(res, verdict)...)
	rows = append(rows, jobRows(res, verdict)...)
	rows = append(rows, connectRows(res, o, verdict)...)

	// Reference figures: no target.
	var refs []row
	refRatio := func(what, a, b string) {
		va, ok1 := ns(a)
		vb, ok2 := ns(b)
		if ok1 && ok2 {
			refs = append(refs, row{what, fmt.Sprintf("%.2f× (%s)", va/vb, dur(va)), "", ""})
		}
	}
	if v, ok := ns(bFloor); ok {
		refs = append(refs, row{"the floor: one `write(2)` of a preformatted 52-byte line", fmt.Sprintf("1.00× (%s)", dur(v)), "", ""})
	}
	refRatio("format into a reused buffer + `write(2)`", bFormat, bFloor)
	refRatio("`slog.TextHandler` to the same kind of file", bSlogText, bFloor)
	refRatio("`Logger().Info`", bLogger, bFloor)
	refRatio("bare SDK span `Start`/`End`", bSDKSpan, bFloor)
	refRatio("SDK span around one `Tracker.Info`", bSDKSpanInfo, bFloor)
	refRatio("bare SDK `AddEvent` with a record's 3 attributes (part of the with-events figure)", bAddEvent, bFloor)
	refRatio("format + `write(2)` + one SDK `AddEvent` of attributes made once: the least a Log with a span event can cost", bFormatEvent, bFloor)
	if floor, ok := ns(bFloor); ok {
		if py != nil {
			pl, pw := medianOf(py.TrackerLogNS), medianOf(py.OSWriteNS)
			refs = append(refs, row{"Python original: `logging.info` to a `FileHandler`", fmt.Sprintf("%.1f× (%s)", pl/floor, dur(pl)), "", ""})
			refs = append(refs, row{"Python `os.write` of the same line", fmt.Sprintf("%.2f× (%s)", pw/floor, dur(pw)), "", ""})
		} else {
			refs = append(refs, row{"Python original: `logging.info` to a `FileHandler`", pyNote, "", ""})
		}
	}

	fmt.Fprintf(w, "pigging performance report, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- machine: %s/%s, %s, %d CPUs (GOMAXPROCS %d), %s\n", runtime.GOOS, runtime.GOARCH,
		orUnknown(res.header["cpu"]), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Fprintf(w, "- medians of %d rounds, -benchtime %s (memory: %s; connectors: %dx a load, %dx an extract)\n",
		o.count, o.benchtime, memBenchtime, connectLoadN, connectQueryN)
	if len(missing) > 0 {
		fmt.Fprintf(w, "- no benchmarks in %s\n", strings.Join(missing, ", "))
	}
	if o.only != nil {
		fmt.Fprintf(w, "- only the benchmarks of %s (-pkg)\n", strings.Join(slices.Sorted(maps.Keys(o.only)), ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| what | measured | target | result |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.what, r.measured, r.target, r.result)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| reference (per line, ratio to the floor) | measured |")
	fmt.Fprintln(w, "|---|---|")
	for _, r := range refs {
		fmt.Fprintf(w, "| %s | %s |\n", r.what, r.measured)
	}
	fmt.Fprintln(w)
	if failed > 0 {
		fmt.Fprintf(w, "%d target(s) not met.\n", failed)
	} else {
		fmt.Fprintln(w, "All measured targets met.")
	}
	return failed
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}

// dur formats nanoseconds for the table.
func dur(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
