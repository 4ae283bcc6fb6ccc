package connect_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pigging-go/pigging/connect"
)

func scanCustomer(r *sql.Rows) (customer, error) {
	var c customer
	err := r.Scan(&c.ID, &c.Name, &c.Total)
	return c, err
}

func TestQuerySQLite(t *testing.T) {
	db, _ := openSQLite(t)
	sqliteTable(t, db)
	if err := connect.Insert(db, "customers", customerCols, customerRow).Load(context.Background(), connect.Slice(customers(1, 3000))); err != nil {
		t.Fatal(err)
	}
	ctx, attrs := recorded(t)
	var n, sum int64
	for c, err := range connect.Query(ctx, db, "SELECT id, name, total FROM customers WHERE id > ? ORDER BY id", scanCustomer,
		connect.WithArgs(1000), connect.WithCollection("customers")) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		sum += c.Total
	}
	if n != 2000 || sum != (3000*3001/2-1000*1001/2)*100 {
		t.Errorf("%d rows, sum %d", n, sum)
	}
	a := attrs()
	if a["pigging.source.rows"] != "2000" || a["db.system.name"] != "sqlite" || a["db.operation.name"] != "SELECT" || a["db.collection.name"] != "customers" {
		t.Errorf("span attributes: %v", a)
	}

	// Stopping early closes the rows: the connection is back in the pool.
	for range connect.Query(context.Background(), db, "SELECT id, name, total FROM customers", scanCustomer) {
		break
	}
	if s := db.Stats(); s.InUse != 0 {
		t.Errorf("%d connections in use after the loop stopped", s.InUse)
	}

	// A struct, by column names.
	type row struct {
		ID       int64
		Name     string
		TotalEUR int64 `db:"total"`
	}
	var got []row
	for r, err := range connect.QueryStruct[row](context.Background(), db, "SELECT id, name, total FROM customers ORDER BY id LIMIT 2") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 2 || got[1] != (row{2, "customer 2", 200}) {
		t.Errorf("QueryStruct: %+v", got)
	}
	// A column with no field is an error, not a silent drop.
	for _, err := range connect.QueryStruct[row](context.Background(), db, "SELECT id, name, total, 1 AS extra FROM customers") {
		if !errors.Is(err, connect.ErrInvalidOption) || !strings.Contains(err.Error(), `"extra"`) {
			t.Errorf("extra column: %v", err)
		}
	}

	// A cancelled ctx ends the range with its error, and closes the rows.
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last error
	n = 0
	for _, err := range connect.Query(cctx, db, "SELECT id, name, total FROM customers", scanCustomer) {
		if err != nil {
			last = err
			break
		}
		if n++; n == 10 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("cancelled query: %v after %d rows", last, n)
	}
	if s := db.Stats(); s.InUse != 0 {
		t.Errorf("%d connections in use after a cancelled query", s.InUse)
	}

	// A bad query is the first pair's error.
	for _, err := range connect.Query(context.Background(), db, "SELECT nope FROM customers", scanCustomer) {
		if err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("bad query: %v", err)
		}
	}
}

func TestQueryPostgres(t *testing.T) {
	conn := pgConn(t)
	table := pgTable(t, conn, "id bigint PRIMARY KEY, name text NOT NULL, total bigint NOT NULL")
	if err := connect.Copy(conn, table, customerCols, customerRow).Load(context.Background(), connect.Slice(customers(1, 500))); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", pgDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	for c, err := range connect.Query(context.Background(), db, "SELECT id, name, total FROM "+table+" WHERE id <= $1", scanCustomer, connect.WithArgs(100)) {
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != "customer "+strconv.FormatInt(c.ID, 10) {
			t.Errorf("row %+v", c)
		}
		n++
	}
	if n != 100 {
		t.Errorf("%d rows, want 100", n)
	}
}

// A malformed CSV line is an error naming the file and the line.
func TestCSVMalformedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orders.csv")
	data := "id,name,total\n1,a,10\n2,b,20\n3,\"c,30\n4,d,40\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	scan := func(f []string) (customer, error) {
		id, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return customer{}, err
		}
		total, err := strconv.ParseInt(f[2], 10, 64)
		return customer{ID: id, Name: f[1], Total: total}, err
	}
	check := func(data string, line int64, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		var got error
		n := 0
		for _, err := range connect.CSV(context.Background(), path, scan, connect.WithHeader("id", "name", "total")) {
			if err != nil {
				got = err
				break
			}
			n++
		}
		var le *connect.LineError
		if !errors.As(got, &le) || le.File != path || le.Line != line || !strings.Contains(got.Error(), text) {
			t.Errorf("after %d rows: %v, want %s:%d: ...%s", n, got, path, line, text)
		}
		if !strings.HasPrefix(got.Error(), path+":"+strconv.FormatInt(line, 10)+": ") {
			t.Errorf("message %q does not start with the file and line", got)
		}
	}
	check(data, 4, "extraneous or missing \" in quoted-field")
	check("id,name,total\n1,a,10\n2,b\n", 3, "wrong number of fields")
	check("id,name,total\n1,a,10\n2,b,x\n", 3, `parsing "x"`)
	check("id,name\n", 1, "header is")

	// A good file: all rows, and the figures on the span.
	if err := os.WriteFile(path, []byte("id,name,total\n1,a,10\n2,b,20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, attrs := recorded(t)
	n := 0
	for _, err := range connect.CSV(ctx, path, scan, connect.WithHeader()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if a := attrs(); n != 2 || a["pigging.source.rows"] != "2" || a["pigging.source.bytes"] != "28" {
		t.Errorf("%d rows, attributes %v", n, a)
	}
}

func TestNDJSONSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.ndjson")
	data := `{"ID":1,"Name":"a","Total":10}` + "\n\n" + `{"ID":2,"Name":"b","Total":20}` + "\n" + `{"ID":3,"Name":` + "\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []customer
	var last error
	for c, err := range connect.NDJSON[customer](context.Background(), path) {
		if err != nil {
			last = err
			break
		}
		got = append(got, c)
	}
	var le *connect.LineError
	if len(got) != 2 || got[1].Total != 20 || !errors.As(last, &le) || le.Line != 4 || le.File != path {
		t.Errorf("rows %+v, error %v", got, last)
	}
	for _, err := range connect.NDJSON[customer](context.Background(), path, connect.WithMaxLine(8)) {
		if err != nil {
			if !errors.As(err, &le) || le.Line != 1 || !strings.Contains(err.Error(), "WithMaxLine") {
				t.Errorf("long line: %v", err)
			}
			break
		}
	}
	for _, err := range connect.NDJSON[customer](context.Background(), filepath.Join(t.TempDir(), "missing")) {
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("missing file: %v", err)
		}
	}
}
