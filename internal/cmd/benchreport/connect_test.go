package main

import (
	"strings"
	"testing"
)

// connectOutput is one round of the connectors' benchmarks as the test
// binary prints them, in the order the report runs them.
const connectOutput = `
BenchmarkLoadSQLite/batched-loop-2   1000000  2000 ns/op  2000 ns/row  1000000 rows/load  219 B/op  5 allocs/op
BenchmarkLoadSQLite/connect-2        1000000  2200 ns/op  2200 ns/row  1000000 rows/load  219 B/op  5 allocs/op
BenchmarkLoadSQLite/connect-2        1000000  4000 ns/op  4000 ns/row  1000000 rows/load  219 B/op  5 allocs/op
BenchmarkLoadSQLite/batched-loop-2   1000000  3000 ns/op  3000 ns/row  1000000 rows/load  219 B/op  5 allocs/op
BenchmarkLoadPostgres/psql-copy-csv-2  1000000  2000 ns/op  2000 ns/row  1000000 rows/load
BenchmarkLoadPostgres/connect-copy-2   1000000  2400 ns/op  2400 ns/row  1000000 rows/load  59 B/op  5 allocs/op
BenchmarkLoadPostgres/connect-copy-2   1000000  3000 ns/op  3000 ns/row  1000000 rows/load  59 B/op  5 allocs/op
BenchmarkLoadPostgres/psql-copy-csv-2  1000000  2000 ns/op  2000 ns/row  1000000 rows/load
BenchmarkExtractPostgres/rows-loop-2      10000000  600 ns/op  3.5 heap-growth-MiB  600 ns/row  10000000 rows/load  80 B/op  4 allocs/op
BenchmarkExtractPostgres/connect-query-2  10000000  500 ns/op  40 heap-growth-MiB  500 ns/row  10000000 rows/load  80 B/op  4 allocs/op
`

func connectResults(t *testing.T, output string) results {
	t.Helper()
	var res results
	parse(&res, "./connect", strings.NewReader(output))
	return res
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

func verdicts(rows []row) []string {
	var v []string
	for _, r := range rows {
		v = append(v, r.result)
	}
	return v
}

// The loads are judged on the ratios of the loads taken side by side:
// SQLite 1.1× and 1.33×, median 1.22×, passes 1.5×; Copy 1.2× and 1.5×,
// median 1.35×, fails 1.3×. The extract fails on the heap.
func TestConnectRowsPaired(t *testing.T) {
	t.Setenv(envPgDSN, "postgres://example")
	res := connectResults(t, connectOutput)
	rows := connectRows(res, options{}, passFail)
	if got, want := strings.Join(verdicts(rows), " "), "pass fail fail"; got != want {
		t.Errorf("verdicts %q, want %q", got, want)
	}
	if !strings.HasPrefix(rows[0].measured, "1.22× (range 1.10–1.33×)") {
		t.Errorf("SQLite row: %q", rows[0].measured)
	}
	if !strings.HasPrefix(rows[1].measured, "1.35× (range 1.20–1.50×)") {
		t.Errorf("Copy row: %q", rows[1].measured)
	}
}

// A load that moved fewer rows than the target names fails its row.
func TestConnectRowsShortLoad(t *testing.T) {
	res := connectResults(t, strings.ReplaceAll(connectOutput, "1000000 rows/load", "100 rows/load"))
	rows := connectRows(res, options{}, passFail)
	if rows[0].result != "fail" {
		t.Errorf("SQLite row of 100-row loads: %q, want fail", rows[0].result)
	}
}

// Without PIGGING_PG_DSN, the PostgreSQL rows say so, and the SQLite row
// stands.
func TestConnectRowsWithoutDSN(t *testing.T) {
	t.Setenv(envPgDSN, "")
	var sqliteOnly strings.Builder
	for _, l := range strings.Split(connectOutput, "\n") {
		if strings.HasPrefix(l, "BenchmarkLoadSQLite") {
			sqliteOnly.WriteString(l + "\n")
		}
	}
	res := connectResults(t, sqliteOnly.String())
	rows := connectRows(res, options{}, passFail)
	if rows[0].result != "pass" {
		t.Errorf("SQLite row: %q, want pass", rows[0].result)
	}
	for _, r := range rows[1:] {
		if r.measured != "not measured (set PIGGING_PG_DSN)" || r.result != "-" {
			t.Errorf("PostgreSQL row without a DSN: %q, %q", r.measured, r.result)
		}
	}
}
