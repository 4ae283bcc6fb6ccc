package connect_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"

	_ "modernc.org/sqlite"

	"github.com/pigging-go/pigging/connect"
	"github.com/pigging-go/pigging/middleware"
)

type Customer struct {
	ID    string
	Name  string
	Total int64
}

// exampleDB opens a SQLite database with a customers table in a new
// directory.
func exampleDB() (*sql.DB, string) {
	dir, err := os.MkdirTemp("", "connect-example-")
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "warehouse.db"))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, total INTEGER NOT NULL)"); err != nil {
		log.Fatal(err)
	}
	return db, dir
}

// Load a sequence into a table as a stage: one transaction, in batches,
// upserted on the key so that running the job twice leaves the same table.
func ExampleInsert() {
	ctx := context.Background()
	db, dir := exampleDB()
	defer os.RemoveAll(dir)
	defer db.Close()

	sink := connect.Insert(db, "customers", []string{"id", "name", "total"},
		func(c Customer, dst []any) { dst[0], dst[1], dst[2] = c.ID, c.Name, c.Total },
		connect.WithUpsert("id"))
	load := middleware.LoadSeq2("customers", sink.Load)

	rows := []Customer{{"C1", "Ada", 1250}, {"C2", "Grace", 990}}
	for range 2 {
		if err := load(ctx, connect.Slice(rows)); err != nil {
			log.Fatal(err)
		}
	}
	var n int
	db.QueryRow("SELECT count(*) FROM customers").Scan(&n)
	fmt.Println(n, "customers")
	// Output: 2 customers
}

// Stream a query's rows: memory stays constant, and the rows are closed
// when the loop ends.
func ExampleQuery() {
	ctx := context.Background()
	db, dir := exampleDB()
	defer os.RemoveAll(dir)
	defer db.Close()
	db.Exec("INSERT INTO customers VALUES ('C1', 'Ada', 1250), ('C2', 'Grace', 990), ('C3', 'Edsger', 10)")

	rows := connect.Query(ctx, db, "SELECT id, name, total FROM customers WHERE total > ? ORDER BY id",
		func(r *sql.Rows) (Customer, error) {
			var c Customer
			err := r.Scan(&c.ID, &c.Name, &c.Total)
			return c, err
		}, connect.WithArgs(100))
	for c, err := range rows {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(c.ID, c.Name, c.Total)
	}
	// Output:
	// C1 Ada 1250
	// C2 Grace 990
}

// A row the database refuses rolls the whole load back; the error names
// the batch and the row.
func ExampleBatchError() {
	ctx := context.Background()
	db, dir := exampleDB()
	defer os.RemoveAll(dir)
	defer db.Close()

	sink := connect.Insert(db, "customers", []string{"id", "name", "total"},
		func(c Customer, dst []any) { dst[0], dst[1], dst[2] = c.ID, c.Name, c.Total },
		connect.WithBatchSize(2))
	rows := []Customer{{"C1", "Ada", 1}, {"C2", "Grace", 2}, {"C3", "Edsger", 3}, {"C3", "Edsger again", 4}}
	err := sink.Load(ctx, connect.Slice(rows))
	var be *connect.BatchError
	if errors.As(err, &be) {
		fmt.Printf("batch %d, row %d\n", be.Batch, be.Row)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM customers").Scan(&n)
	fmt.Println(n, "customers")
	// Output:
	// batch 2, row 4
	// 0 customers
}

type token int64

func (t token) Token() int64 { return int64(t) }

// A run that lost its lock cannot load over the newer run that took it:
// the fence row in the load's transaction refuses its older token.
// A *pglock.Locker is the Fencer of a real job.
func ExampleWithFence() {
	ctx := context.Background()
	db, dir := exampleDB()
	defer os.RemoveAll(dir)
	defer db.Close()

	cols := []string{"id", "name", "total"}
	row := func(c Customer, dst []any) { dst[0], dst[1], dst[2] = c.ID, c.Name, c.Total }
	newer := connect.Insert(db, "customers", cols, row, connect.WithFence(token(8)), connect.WithUpsert("id"))
	older := connect.Insert(db, "customers", cols, row, connect.WithFence(token(7)), connect.WithUpsert("id"))

	fmt.Println(newer.Load(ctx, connect.Slice([]Customer{{"C1", "Ada", 1250}})))
	err := older.Load(ctx, connect.Slice([]Customer{{"C1", "Ada", 0}}))
	fmt.Println(errors.Is(err, connect.ErrFenced))
	fmt.Println(err)
	// Output:
	// <nil>
	// true
	// connect: fenced: load into customers refused: run's fencing token 7 is older than token 8 of a newer run; this run has lost its lock, nothing was written
}

// Read a CSV file: an error names the file and the line.
func ExampleCSV() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "connect-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "customers.csv")
	os.WriteFile(path, []byte("id,name,total\nC1,Ada,1250\nC2,Grace,n/a\n"), 0o644)

	rows := connect.CSV(ctx, path, func(f []string) (Customer, error) {
		total, err := strconv.ParseInt(f[2], 10, 64)
		return Customer{ID: f[0], Name: f[1], Total: total}, err
	}, connect.WithHeader("id", "name", "total"))
	for c, err := range rows {
		if err != nil {
			fmt.Println(filepath.Base(err.(*connect.LineError).File), err.(*connect.LineError).Line, errors.Unwrap(err))
			break
		}
		fmt.Println(c.ID, c.Total)
	}
	// Output:
	// C1 1250
	// customers.csv 3 strconv.ParseInt: parsing "n/a": invalid syntax
}

// Write a file whole or not at all: the old file stays until the new one is
// complete and synced.
func ExampleNDJSONFile() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "connect-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "customers.ndjson")

	sink := connect.NDJSONFile[Customer](path)
	if err := sink.Load(ctx, connect.Slice([]Customer{{"C1", "Ada", 1250}})); err != nil {
		log.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	// Output: {"ID":"C1","Name":"Ada","Total":1250}
}
