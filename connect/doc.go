// Package connect holds the sources and sinks an ETL job reads and writes
// through: a query's rows as a stream, a table loaded in batches, CSV and
// NDJSON files. They are safe by default: a load is all or nothing, a
// file is replaced whole or not at all, a run that lost its lock cannot
// commit over a newer one, and an error names the file and line or the
// batch and row it is about.
//
//	import "github.com/pigging-go/pigging/connect"
//
// # Sources
//
// A source is an iter.Seq2[T, error]: nothing is read until it is ranged
// over, its items are read as they are handed over (memory stays constant
// however big the input), and what it opened is closed when the range
// ends, early or not. An error is the last pair of a range.
//
//	rows := connect.Query(ctx, db, "SELECT id, name FROM customers WHERE region = $1",
//		func(r *sql.Rows) (Customer, error) {
//			var c Customer
//			err := r.Scan(&c.ID, &c.Name)
//			return c, err
//		}, connect.WithArgs("eu"))
//	for c, err := range rows { ... }
//
// Query works with any database/sql driver; QueryStruct maps columns to a
// struct's fields. CSV and NDJSON read files, and their errors are
// *LineError values naming the file and the line.
//
// # Sinks
//
// A sink's Load takes a sequence and has the signature middleware.LoadSeq2
// wraps, so a load is a stage with its records counted:
//
//	sink := connect.Insert(db, "customers", []string{"id", "name"},
//		func(c Customer, dst []any) { dst[0], dst[1] = c.ID, c.Name },
//		connect.WithUpsert("id"))
//	load := middleware.LoadSeq2("customers", sink.Load)
//	err := load(ctx, rows)
//
// Insert writes multi-row INSERT statements through any database/sql
// driver; Copy writes PostgreSQL's COPY through pgx, several times faster.
// A Load is one transaction: when the input hands over an error, the
// database refuses a batch, ctx is done or the process is killed, the
// table is left as it was. WithCommitPerBatch commits each batch instead,
// for loads too big for one transaction. A refused batch is a *BatchError
// naming the batch and, where the database tells, the row. WithUpsert
// makes reloading the same rows idempotent.
//
// NDJSONFile and CSVFile write files, and WriteFile any format: into a
// temporary file beside the target, synced, renamed over it, and the
// directory synced, so the target holds its old content or all of the new.
//
// # Fencing
//
// A pigging lock keeps two runs of a job apart, but a run that lost its
// lock (a paused VM, a partition: see pglock) may go on writing. With
// WithFence(locker), a Load advances the target's fence row to the run's
// fencing token in the transaction of its rows, and is refused, writing
// nothing, when the row holds a larger token: a newer run has loaded the
// target. The refusal is a *FencedError that matches ErrFenced:
//
//	sink := connect.Copy(conn, "customers", cols, row, connect.WithFence(locker))
//	if err := sink.Load(ctx, rows); errors.Is(err, connect.ErrFenced) { ... }
//
// The error reaches the run like any other: the stage's ERROR line and the
// run's failure say it.
//
// # Telemetry
//
// A connector sets its figures on the span in its ctx, the stage span
// when it runs inside a middleware stage, when it ends: pigging.source.rows
// and pigging.source.bytes for a source, pigging.sink.rows,
// pigging.sink.bytes and pigging.sink.batches for a sink, and the
// semantic conventions' db.system.name, db.namespace, db.collection.name
// and db.operation.name for a database (no db.operation.batch.size: each
// batch is one statement, a multi-row INSERT or a COPY). A source
// reports on the span of the ctx it was made with: make it with the ctx of
// the stage that ranges over it. The spans of the statements themselves
// come from the driver's instrumentation: open the database with
// github.com/XSAM/otelsql, give a pgx connection the tracer of
// github.com/exaring/otelpgx. The package takes the OpenTelemetry API
// only.
//
// # Errors
//
// Bad arguments (an empty table, no columns, a nil function, a bad option)
// never panic: the Load or the range returns an error wrapping
// ErrInvalidOption. Every other error is wrapped with %w, so errors.Is and
// errors.As reach the driver's error (a *pgconn.PgError, a
// *csv.ParseError's cause) and ctx's.
package connect
