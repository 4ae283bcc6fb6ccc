package connect_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	_ "modernc.org/sqlite"

	"github.com/pigging-go/pigging/internal/proctest"
)

const envDSN = "PIGGING_PG_DSN" // the test database; the tests that need it skip without it

// childScenarios are the programs a child process can run, by name.
var childScenarios = map[string]func() int{}

func TestMain(m *testing.M) { proctest.Main(m, childScenarios) }

// openSQLite opens a SQLite database in a file of the test's own.
func openSQLite(t testing.TB) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db := openSQLitePath(t, path)
	return db, path
}

func openSQLitePath(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
}

// pgDSN returns the test database, or skips the test saying what it needs.
func pgDSN(t testing.TB) string {
	t.Helper()
	d := os.Getenv(envDSN)
	if d == "" {
		t.Skip("needs PostgreSQL: set " + envDSN + " (CI starts a throwaway cluster)")
	}
	return d
}

// pgConn connects to the test database, closed at cleanup.
func pgConn(t testing.TB) *pgx.Conn {
	t.Helper()
	d := pgDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d)
	if err != nil {
		t.Fatalf("connecting to %s: %v", envDSN, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// randomName returns prefix and 12 random hex digits.
func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// pgTable creates a table of the test's own in PostgreSQL with columns,
// dropped at cleanup.
func pgTable(t testing.TB, conn *pgx.Conn, columns string) string {
	t.Helper()
	name := randomName("connect_test_")
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE "+name+" ("+columns+")"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// recorded returns a ctx with a recording span and a function that ends
// it and returns its attributes by key.
func recorded(t testing.TB) (context.Context, func() map[string]string) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "stage")
	return ctx, func() map[string]string {
		span.End()
		out := map[string]string{}
		for _, kv := range rec.Ended()[0].Attributes() {
			out[string(kv.Key)] = kv.Value.String()
		}
		return out
	}
}

// customer is the row the tests load.
type customer struct {
	ID    int64
	Name  string
	Total int64
}

var customerCols = []string{"id", "name", "total"}

func customerRow(c customer, dst []any) { dst[0], dst[1], dst[2] = c.ID, c.Name, c.Total }

// customers returns n customers with ids from first.
func customers(first, n int64) []customer {
	out := make([]customer, n)
	for i := range out {
		id := first + int64(i)
		out[i] = customer{ID: id, Name: "customer " + strconv.FormatInt(id, 10), Total: id * 100}
	}
	return out
}

// count returns the rows of table and the sum of their totals.
func count(t testing.TB, db *sql.DB, table string) (n, sum int64) {
	t.Helper()
	if err := db.QueryRow("SELECT count(*), coalesce(sum(total), 0) FROM "+table).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	return n, sum
}

func pgCount(t testing.TB, conn *pgx.Conn, table string) (n, sum int64) {
	t.Helper()
	if err := conn.QueryRow(context.Background(), "SELECT count(*), coalesce(sum(total), 0)::bigint FROM "+table).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	return n, sum
}
