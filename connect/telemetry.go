package connect

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"reflect"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys a connector sets on the span in its ctx (the stage span),
// beside the semantic conventions' db.* attributes.
const (
	KeySourceRows  = attribute.Key("pigging.source.rows")  // rows a source handed over
	KeySourceBytes = attribute.Key("pigging.source.bytes") // bytes a file source read
	KeySinkRows    = attribute.Key("pigging.sink.rows")    // rows a sink wrote (committed or not)
	KeySinkBytes   = attribute.Key("pigging.sink.bytes")   // bytes a file sink wrote; the values' size for a table sink
	KeySinkBatches = attribute.Key("pigging.sink.batches") // batches a sink sent
)

// dbInfo is what the semantic conventions want to know of a database.
type dbInfo struct {
	system     string // db.system.name
	namespace  string // db.namespace
	collection string // db.collection.name
	operation  string // db.operation.name
}

func (d dbInfo) attrs(kv []attribute.KeyValue) []attribute.KeyValue {
	if d.system != "" {
		kv = append(kv, semconv.DBSystemNameKey.String(d.system))
	}
	if d.namespace != "" {
		kv = append(kv, semconv.DBNamespace(d.namespace))
	}
	if d.collection != "" {
		kv = append(kv, semconv.DBCollectionName(d.collection))
	}
	if d.operation != "" {
		kv = append(kv, semconv.DBOperationName(d.operation))
	}
	return kv
}

// systemOf names the database behind db's driver for db.system.name.
func systemOf(db *sql.DB) string {
	return systemOfDriver(db.Driver())
}

func systemOfDriver(d driver.Driver) string {
	t := reflect.TypeOf(d)
	if t == nil {
		return "other_sql"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	switch {
	case strings.HasPrefix(pkg, "github.com/jackc/pgx"), pkg == "github.com/lib/pq":
		return semconv.DBSystemNamePostgreSQL.Value.AsString()
	case pkg == "modernc.org/sqlite", strings.HasPrefix(pkg, "github.com/mattn/go-sqlite3"), strings.HasPrefix(pkg, "github.com/ncruces/go-sqlite3"):
		return semconv.DBSystemNameSQLite.Value.AsString()
	case strings.HasPrefix(pkg, "github.com/go-sql-driver/mysql"):
		return semconv.DBSystemNameMySQL.Value.AsString()
	}
	return "other_sql"
}

// report sets kv on the span in ctx when it records: once per connector
// call, when it ends. It never fails.
func report(ctx context.Context, kv []attribute.KeyValue) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(kv...)
	}
}

// valueSize is what a value adds to pigging.sink.bytes: the length of a
// string or []byte, 8 for a number or a time, 1 for a bool.
func valueSize(v any) int64 {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return int64(len(x))
	case []byte:
		return int64(len(x))
	case bool:
		return 1
	case time.Time:
		return 8
	}
	return 8
}
