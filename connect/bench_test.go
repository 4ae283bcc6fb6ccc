package connect_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pigging-go/pigging/connect"
)

// envBenchRows sets the rows of each load or extract of the benchmarks;
// unset, each benchmark moves b.N rows in one load, so that the CI smoke
// run (-benchtime 100x) moves 100 rows, and the benchmark report
// (internal/cmd/benchreport) moves a million rows a load and ten million
// an extract with -benchtime 1000000x and 10000000x.
const envBenchRows = "PIGGING_BENCH_ROWS"

// benchSize returns the rows of one load and the loads of the benchmark.
func benchSize(b *testing.B) (rows, loads int) {
	if s := os.Getenv(envBenchRows); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a number of rows", envBenchRows, s)
		}
		return n, b.N
	}
	return b.N, 1
}

// reportRows stops the timer and reports the time per row and the rows of
// each load.
func reportRows(b *testing.B, rows, loads int) {
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows*loads), "ns/row")
	b.ReportMetric(float64(rows), "rows/load")
}

// genCustomers hands over n customers made as they are pulled.
func genCustomers(n int) func(yield func(customer, error) bool) {
	return func(yield func(customer, error) bool) {
		for i := range n {
			id := int64(i + 1)
			if !yield(customer{ID: id, Name: "customer " + strconv.FormatInt(id, 10), Total: id * 100}, nil) {
				return
			}
		}
	}
}

// BenchmarkLoadSQLite loads rows into a SQLite table in one transaction:
// the Insert sink (multi-row INSERTs of 500 rows) against the loops a
// person writes by hand: one prepared single-row INSERT per row, and
// prepared 500-row INSERTs, each in one transaction. Each load goes into a fresh table, made outside the timer.
func BenchmarkLoadSQLite(b *testing.B) {
	db, _ := openSQLite(b)
	ctx := context.Background()
	fresh := func(b *testing.B) {
		b.StopTimer()
		if _, err := db.Exec("DROP TABLE IF EXISTS customers"); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec(sqliteCustomers); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()
	}
	b.Run("prepared-loop", func(b *testing.B) {
		b.ReportAllocs()
		rows, loads := benchSize(b)
		for range loads {
			fresh(b)
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO customers (id, name, total) VALUES (?, ?, ?)`)
			if err != nil {
				b.Fatal(err)
			}
			for c := range genCustomers(rows) {
				if _, err := stmt.ExecContext(ctx, c.ID, c.Name, c.Total); err != nil {
					b.Fatal(err)
				}
			}
			stmt.Close()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		reportRows(b, rows, loads)
	})
	b.Run("batched-loop", func(b *testing.B) {
		b.ReportAllocs()
		rows, loads := benchSize(b)
		const batch = 500
		text := "INSERT INTO customers (id, name, total) VALUES (?, ?, ?)" + strings.Repeat(", (?, ?, ?)", batch-1)
		for range loads {
			fresh(b)
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			stmt, err := tx.PrepareContext(ctx, text)
			if err != nil {
				b.Fatal(err)
			}
			args := make([]any, 0, 3*batch)
			flush := func() {
				if len(args) == 3*batch {
					_, err = stmt.ExecContext(ctx, args...)
				} else {
					tail := "INSERT INTO customers (id, name, total) VALUES (?, ?, ?)" + strings.Repeat(", (?, ?, ?)", len(args)/3-1)
					_, err = tx.ExecContext(ctx, tail, args...)
				}
				if err != nil {
					b.Fatal(err)
				}
				args = args[:0]
			}
			for c := range genCustomers(rows) {
				args = append(args, c.ID, c.Name, c.Total)
				if len(args) == 3*batch {
					flush()
				}
			}
			if len(args) > 0 {
				flush()
			}
			stmt.Close()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		reportRows(b, rows, loads)
	})
	b.Run("connect", func(b *testing.B) {
		b.ReportAllocs()
		rows, loads := benchSize(b)
		sink := connect.Insert(db, "customers", customerCols, customerRow)
		for range loads {
			fresh(b)
			if err := sink.Load(ctx, genCustomers(rows)); err != nil {
				b.Fatal(err)
			}
		}
		reportRows(b, rows, loads)
	})
}

// psqlPath finds psql: on PATH, or where Debian's PostgreSQL 15 puts it.
func psqlPath() string {
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	if p := "/usr/lib/postgresql/15/bin/psql"; fileExists(p) {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// BenchmarkLoadPostgres loads rows into a PostgreSQL table: the Copy sink
// (binary COPY through pgx, in one transaction) against `psql \copy` of the
// same rows from a CSV file, the tool a data engineer reaches for (its
// process start and connection included: a few ms, nothing beside a
// million rows). The CSV file is written outside the timer; each load goes
// into a fresh, unlogged-free ordinary table made outside the timer.
func BenchmarkLoadPostgres(b *testing.B) {
	conn := pgConn(b)
	dsn := pgDSN(b)
	ctx := context.Background()
	table := randomName("connect_bench_")
	b.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	fresh := func(b *testing.B) {
		b.StopTimer()
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (id bigint PRIMARY KEY, name text NOT NULL, total bigint NOT NULL)"); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()
	}
	b.Run("psql-copy-csv", func(b *testing.B) {
		psql := psqlPath()
		if psql == "" {
			b.Skip("psql is not on PATH")
		}
		rows, loads := benchSize(b)
		b.StopTimer()
		csvPath := filepath.Join(b.TempDir(), "customers.csv")
		writeCSV(b, csvPath, rows)
		b.StartTimer()
		for range loads {
			fresh(b)
			cmd := exec.Command(psql, "-qX", "-v", "ON_ERROR_STOP=1", dsn,
				"-c", `\copy `+table+` (id, name, total) FROM '`+csvPath+`' WITH (FORMAT csv)`)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("psql: %v\n%s", err, out)
			}
		}
		reportRows(b, rows, loads)
		checkRows(b, conn, table, rows)
	})
	b.Run("connect-copy", func(b *testing.B) {
		b.ReportAllocs()
		rows, loads := benchSize(b)
		sink := connect.Copy(conn, table, customerCols, customerRow)
		for range loads {
			fresh(b)
			if err := sink.Load(ctx, genCustomers(rows)); err != nil {
				b.Fatal(err)
			}
		}
		reportRows(b, rows, loads)
		checkRows(b, conn, table, rows)
	})
}

// BenchmarkLoadPostgresPaired is BenchmarkLoadPostgres with the two
// loads taken in turns, psql then connect, in each iteration: on a shared
// machine whose load drifts, the pairs stay comparable where sub-benchmarks
// run minutes apart do not. It reports each side's ns/row and their ratio
// (connect / psql, over all pairs).
func BenchmarkLoadPostgresPaired(b *testing.B) {
	conn := pgConn(b)
	dsn := pgDSN(b)
	psql := psqlPath()
	if psql == "" {
		b.Skip("psql is not on PATH")
	}
	ctx := context.Background()
	table := randomName("connect_bench_")
	b.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	fresh := func() {
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (id bigint PRIMARY KEY, name text NOT NULL, total bigint NOT NULL)"); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
	}
	rows, loads := benchSize(b)
	b.StopTimer()
	csvPath := filepath.Join(b.TempDir(), "customers.csv")
	writeCSV(b, csvPath, rows)
	sink := connect.Copy(conn, table, customerCols, customerRow)
	var psqlTime, connectTime time.Duration
	for range loads {
		fresh()
		start := time.Now()
		cmd := exec.Command(psql, "-qX", "-v", "ON_ERROR_STOP=1", dsn,
			"-c", `\copy `+table+` (id, name, total) FROM '`+csvPath+`' WITH (FORMAT csv)`)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("psql: %v\n%s", err, out)
		}
		psqlTime += time.Since(start)
		checkRows(b, conn, table, rows)
		fresh()
		start = time.Now()
		if err := sink.Load(ctx, genCustomers(rows)); err != nil {
			b.Fatal(err)
		}
		connectTime += time.Since(start)
		checkRows(b, conn, table, rows)
	}
	n := float64(rows * loads)
	b.ReportMetric(float64(psqlTime.Nanoseconds())/n, "psql-ns/row")
	b.ReportMetric(float64(connectTime.Nanoseconds())/n, "connect-ns/row")
	b.ReportMetric(connectTime.Seconds()/psqlTime.Seconds(), "connect/psql")
	b.ReportMetric(0, "ns/op")
}

func writeCSV(b *testing.B, path string, rows int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for c := range genCustomers(rows) {
		fmt.Fprintf(w, "%d,%s,%d\n", c.ID, c.Name, c.Total)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func checkRows(b *testing.B, conn *pgx.Conn, table string, want int) {
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n != want {
		b.Fatalf("%d rows in %s, want %d", n, table, want)
	}
}

// BenchmarkExtractPostgres streams rows out of PostgreSQL through
// database/sql (pgx's stdlib driver): Query against the same rows.Next
// and Scan loop written by hand. The rows come from generate_series, so
// no table is needed. Besides time, it reports heap-growth-MiB: the
// largest live heap seen during the extract (sampled every 65,536 rows)
// less the heap before it, which stays flat when the rows stream.
func BenchmarkExtractPostgres(b *testing.B) {
	db, err := sql.Open("pgx", pgDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx := context.Background()
	const query = "SELECT g, 'customer ' || g, g * 100 FROM generate_series(1, $1::bigint) g"
	b.Run("rows-loop", func(b *testing.B) {
		b.ReportAllocs()
		rows, loads := benchSize(b)
		h := newHeapWatch()
		for range loads {
			rs, err := db.QueryContext(ctx, query, rows)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rs.Next() {
				var c customer
				if err := rs.Scan(&c.ID, &c.Name, &c.Total); err != nil {
					b.Fatal(err)
				}
				if n++; n&0xffff == 0 {
					h.sample()
				}
			}
			if err := rs.Err(); err != nil {
				b.Fatal(err)
			}
			rs.Close()
		}
		h.sample()
		reportRows(b, rows, loads)
		h.report(b)
	})
	b.Run("connect-query", func(b *testing.B) {
		b.ReportAllocs()
		rows, loads := benchSize(b)
		h := newHeapWatch()
		for range loads {
			n := 0
			for _, err := range connect.Query(ctx, db, query, scanCustomer, connect.WithArgs(rows)) {
				if err != nil {
					b.Fatal(err)
				}
				if n++; n&0xffff == 0 {
					h.sample()
				}
			}
			if n != rows {
				b.Fatalf("%d rows, want %d", n, rows)
			}
		}
		h.sample()
		reportRows(b, rows, loads)
		h.report(b)
	})
}

// heapWatch keeps the largest live heap seen since it was made.
type heapWatch struct {
	base, peak uint64
}

func newHeapWatch() *heapWatch {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return &heapWatch{base: m.HeapAlloc, peak: m.HeapAlloc}
}

// sample reads the live heap. ReadMemStats stops the world for a few µs:
// once every 65,536 rows it costs nothing measurable.
func (h *heapWatch) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapAlloc)
}

func (h *heapWatch) report(b *testing.B) {
	b.ReportMetric(float64(h.peak-h.base)/(1<<20), "heap-growth-MiB")
}
