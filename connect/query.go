package connect

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"iter"
	"reflect"
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

// Queryer runs a query: *sql.DB, *sql.Conn and *sql.Tx are Queryers.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Query returns the rows of query on db as a sequence of T, each made by
// scan from the current row (scan calls rows.Scan; it must not call Next or
// Close). Nothing runs until the sequence is ranged over; each range runs
// the query once, with the arguments given with WithArgs, and streams its
// rows as database/sql does: memory stays constant however many rows there
// are. The rows are closed when the range ends: at the last row, when the
// loop stops early, on an error, and when ctx is done.
//
// An error (the query's, scan's wrapped with the row number, the rows'
// after the last one, ctx's when it is done) is handed over as the last
// pair of the range, with the zero T. When the range ends, the span in ctx
// gets pigging.source.rows and the db.* attributes (db.system.name from
// WithSystem or the driver, db.operation.name SELECT, db.collection.name
// from WithCollection, db.namespace from WithNamespace): give it the ctx
// of the stage that ranges over it. A bad option is the first pair's
// error. The sequence is safe to range over from several goroutines at
// once when db is.
func Query[T any](ctx context.Context, db Queryer, query string, scan func(rows *sql.Rows) (T, error), opts ...Option) iter.Seq2[T, error] {
	c, err := newConfig(opts)
	if err == nil && scan == nil {
		err = fmt.Errorf("connect: Query: scan is nil: %w", ErrInvalidOption)
	}
	return querySeq(ctx, db, query, c, err, func(*sql.Rows) (func(*sql.Rows) (T, error), error) { return scan, nil })
}

// QueryStruct is Query with each row scanned into the fields of a struct
// T: a column goes to the field whose `db` tag names it, else to the
// exported field whose name matches it without regard to case or
// underscores (customer_id → CustomerID). A column with no field is an
// error (the first pair's), so that a changed query is not read half.
// Fields may be of any type the driver scans into, pointers and
// sql.Null* for columns that may be NULL.
func QueryStruct[T any](ctx context.Context, db Queryer, query string, opts ...Option) iter.Seq2[T, error] {
	c, err := newConfig(opts)
	if t := reflect.TypeFor[T](); err == nil && t.Kind() != reflect.Struct {
		err = fmt.Errorf("connect: QueryStruct: %s is not a struct: %w", t, ErrInvalidOption)
	}
	return querySeq(ctx, db, query, c, err, structScanner[T])
}

// querySeq is Query with a scan function planned once per range from the
// rows' columns.
func querySeq[T any](ctx context.Context, db Queryer, query string, c config, cerr error, plan func(*sql.Rows) (func(*sql.Rows) (T, error), error)) iter.Seq2[T, error] {
	info := dbInfo{system: c.system, namespace: c.namespace, collection: c.collection, operation: "SELECT"}
	if info.system == "" {
		if d, ok := db.(interface{ Driver() driver.Driver }); ok {
			info.system = systemOfDriver(d.Driver())
		}
	}
	return func(yield func(T, error) bool) {
		var zero T
		if cerr != nil {
			yield(zero, cerr)
			return
		}
		var n int64
		defer func() {
			report(ctx, info.attrs([]attribute.KeyValue{KeySourceRows.Int64(n)}))
		}()
		rows, err := db.QueryContext(ctx, query, c.args...)
		if err != nil {
			yield(zero, fmt.Errorf("connect: query: %w", err))
			return
		}
		defer rows.Close()
		scan, err := plan(rows)
		if err != nil {
			yield(zero, err)
			return
		}
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				yield(zero, fmt.Errorf("connect: query: row %d: %w", n+1, err))
				return
			}
			n++
			if !yield(v, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(zero, fmt.Errorf("connect: query: after row %d: %w", n, err))
			return
		}
		if err := rows.Close(); err != nil {
			yield(zero, fmt.Errorf("connect: query: closing the rows: %w", err))
		}
	}
}

// structScanner plans the scan of rows into a struct T.
func structScanner[T any](rows *sql.Rows) (func(*sql.Rows) (T, error), error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("connect: query: columns: %w", err)
	}
	fields, err := fieldsFor(reflect.TypeFor[T](), cols)
	if err != nil {
		return nil, err
	}
	dest := make([]any, len(cols))
	return func(rows *sql.Rows) (T, error) {
		var v T
		rv := reflect.ValueOf(&v).Elem()
		for i, f := range fields {
			dest[i] = rv.FieldByIndex(f).Addr().Interface()
		}
		err := rows.Scan(dest...)
		return v, err
	}, nil
}

// fieldsFor returns the field of struct t each column goes to.
func fieldsFor(t reflect.Type, cols []string) ([][]int, error) {
	byName := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		if tag, ok := f.Tag.Lookup("db"); ok {
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if name != "" {
				byName[name] = f.Index
				continue
			}
		}
		if _, ok := byName[fold(f.Name)]; !ok {
			byName[fold(f.Name)] = f.Index
		}
	}
	out := make([][]int, len(cols))
	for i, c := range cols {
		idx, ok := byName[c]
		if !ok {
			idx, ok = byName[fold(c)]
		}
		if !ok {
			return nil, fmt.Errorf("connect: query: column %q has no field in %s (tag a field `db:%q`): %w", c, t, c, ErrInvalidOption)
		}
		out[i] = idx
	}
	return out, nil
}

// fold is a name without case or underscores.
func fold(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "_", "")
}
