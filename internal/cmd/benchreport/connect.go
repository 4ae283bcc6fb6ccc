package main

import (
	"fmt"
	"os"
	"strconv"
)

// The connectors' benchmarks (connect/bench_test.go) move b.N rows in one
// load when PIGGING_BENCH_ROWS is unset, so the report sizes them with
// -benchtime Nx: a million rows a load, ten million an extract. Those of
// PostgreSQL need a database and skip without one.
const (
	envPgDSN      = "PIGGING_PG_DSN"
	envBenchRows  = "PIGGING_BENCH_ROWS"
	connectLoadN  = 1_000_000
	connectQueryN = 10_000_000
)

// connectBench is a benchmark of the connectors with two sub-benchmarks,
// the work done by hand and the connector, run in each round in turns as
// a job's pair is (jobOrder): base, connect, connect, base, each in a
// process of its own. A load takes seconds, and the server shares the
// machine: going first or second in a pair weighs on a load, so each side
// goes first once a round.
type connectBench struct {
	pkg
	base, connect string
	rows          int  // rows of each load or extract: the -benchtime
	pg            bool // needs PIGGING_PG_DSN
}

var connectBenches = []connectBench{
	{pkg{"./connect", "^BenchmarkLoadSQLite$"}, "batched-loop", "connect", connectLoadN, false},
	{pkg{"./connect", "^BenchmarkLoadPostgres$"}, "psql-copy-csv", "connect-copy", connectLoadN, true},
	{pkg{"./connect", "^BenchmarkExtractPostgres$"}, "rows-loop", "connect-query", connectQueryN, true},
}

// Connector benchmark names, as "<package>:<name>".
const (
	bSQLiteBatched = "./connect:BenchmarkLoadSQLite/batched-loop"
	bSQLiteInsert  = "./connect:BenchmarkLoadSQLite/connect"
	bPgPsqlCopy    = "./connect:BenchmarkLoadPostgres/psql-copy-csv"
	bPgCopy        = "./connect:BenchmarkLoadPostgres/connect-copy"
	bPgRowsLoop    = "./connect:BenchmarkExtractPostgres/rows-loop"
	bPgQuery       = "./connect:BenchmarkExtractPostgres/connect-query"
)

// Targets of the connectors.
const (
	sqliteLimit = 1.5 // Insert against prepared 500-row INSERTs, per row
	pgCopyLimit = 1.3 // Copy against psql \copy of a CSV file, per row
	pgHeapLimit = 32  // MiB of heap growth over an extract
)

// runConnectBenches runs the connectors' benchmarks, each pair in turns,
// with the test binaries in bins; those of PostgreSQL only when
// PIGGING_PG_DSN is set. PIGGING_BENCH_ROWS is cleared: it would turn
// each -benchtime Nx into N loads.
func runConnectBenches(res *results, bins map[string]string, o options) error {
	os.Unsetenv(envBenchRows)
	pg := os.Getenv(envPgDSN) != ""
	for _, c := range connectBenches {
		bin := bins[c.path]
		if bin == "" || (c.pg && !pg) {
			continue
		}
		order := []string{c.base, c.connect, c.connect, c.base}
		if err := runInTurns(res, bin, c.path, c.bench, order, strconv.Itoa(c.rows)+"x", o.verbose); err != nil {
			return err
		}
	}
	return nil
}

// connectRows reports the connectors against the work a person would do
// by hand, as ratios per row of the loads taken side by side, the median
// with its range:
//
//   - SQLite: Insert against prepared 500-row INSERTs in one transaction.
//   - PostgreSQL: Copy against psql \copy of the same rows from a CSV file
//     (psql's process start and connection included).
//   - PostgreSQL: Query over ten million rows, judged on the heap's
//     growth in every extract, with its time against the same
//     rows.Next/Scan loop by hand.
//
// Each row holds only when every load moved its rows; without
// PIGGING_PG_DSN the PostgreSQL rows say so.
func connectRows(res results, o options, verdict func(bool) string) []row {
	const (
		sqliteWhat   = "SQLite (modernc.org/sqlite), loading 1,000,000 rows of 3 columns in one transaction: `Insert` (500-row INSERTs)"
		sqliteTarget = "≤ 1.5× a hand-written loop of prepared 500-row INSERTs in one transaction"
		copyWhat     = "PostgreSQL, loading 1,000,000 rows of 3 columns (primary key) into a fresh table: `Copy` (binary COPY, one transaction)"
		copyTarget   = "≤ 1.3× `psql \\copy` of the same rows from a CSV file; aim to beat it"
		queryWhat    = "PostgreSQL, extracting 10,000,000 rows through `database/sql` (pgx stdlib): `Query`"
		queryTarget  = "heap growth < 32 MiB in every extract"
	)
	pgNote := notMeasured
	if o.runs("./connect") && os.Getenv(envPgDSN) == "" {
		pgNote = "not measured (set " + envPgDSN + ")"
	}
	// moved tells whether every sample of name moved n rows.
	moved := func(name string, n float64) bool {
		for _, s := range res.samples[name] {
			if s["rows/load"] < n {
				return false
			}
		}
		return len(res.samples[name]) > 0
	}
	// ratio is the time of a against b per row, with both and their
	// allocations.
	ratio := func(a, b, against string) (spread, string, bool) {
		s, ok := res.pairedRatios(a, b, "ns/row")
		if !ok {
			return s, "", false
		}
		va, _ := res.median(a, "ns/row")
		vb, _ := res.median(b, "ns/row")
		m := fmt.Sprintf("%s %s (%s vs %s a row)", s, against, dur(va), dur(vb))
		// One load a sample, of b.N rows: allocs/op is per row.
		if aa, ok := res.median(a, "allocs/op"); ok {
			m += fmt.Sprintf(", %.1f allocations a row", aa)
		}
		return s, m, true
	}
	var rows []row

	if s, m, ok := ratio(bSQLiteInsert, bSQLiteBatched, "the loop by hand"); ok {
		ok := s.median <= sqliteLimit && moved(bSQLiteInsert, connectLoadN) && moved(bSQLiteBatched, connectLoadN)
		rows = append(rows, row{sqliteWhat, m, sqliteTarget, verdict(ok)})
	} else {
		rows = append(rows, row{sqliteWhat, notMeasured, sqliteTarget, "-"})
	}

	if s, m, ok := ratio(bPgCopy, bPgPsqlCopy, "`psql \\copy`"); ok {
		ok := s.median <= pgCopyLimit && moved(bPgCopy, connectLoadN) && moved(bPgPsqlCopy, connectLoadN)
		rows = append(rows, row{copyWhat, m, copyTarget, verdict(ok)})
	} else {
		rows = append(rows, row{copyWhat, pgNote, copyTarget, "-"})
	}

	if h, ok := res.median(bPgQuery, "heap-growth-MiB"); ok {
		hi := res.max(bPgQuery, "heap-growth-MiB")
		m := fmt.Sprintf("heap growth %.1f MiB (max %.1f; the loop by hand: max %.1f MiB)", h, hi, res.max(bPgRowsLoop, "heap-growth-MiB"))
		if _, t, ok := ratio(bPgQuery, bPgRowsLoop, "the same `rows.Next`/`Scan` loop by hand"); ok {
			m += "; time " + t
		}
		rows = append(rows, row{queryWhat, m, queryTarget, verdict(hi < pgHeapLimit && moved(bPgQuery, connectQueryN))})
	} else {
		rows = append(rows, row{queryWhat, pgNote, queryTarget, "-"})
	}
	return rows
}
