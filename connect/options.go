package connect

import (
	"errors"
	"fmt"
	"io/fs"
)

// Defaults of the options.
const (
	// DefaultBatchSize is the rows of a batch of INSERTs (one statement):
	// enough that a round trip is small beside the rows, few enough that
	// a batch stays under the parameter limit of every common database.
	DefaultBatchSize = 500
	// DefaultCopyBatchSize is the rows of a batch of a PostgreSQL COPY
	// (one CopyFrom call).
	DefaultCopyBatchSize = 100_000
	// DefaultFenceTable is the table of the fence rows.
	DefaultFenceTable = "pigging_fences"
)

// An Option configures a source or a sink. Options are made by the With*
// functions; the interface is sealed. An option a connector has no use for
// is ignored by it (WithArgs by a sink, WithUpsert by a source).
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	batch      int
	batchSet   bool
	perBatch   bool
	upsert     []string
	fencer     Fencer
	fenceName  string
	fenceTable string
	system     string
	namespace  string
	collection string
	args       []any
	mode       fs.FileMode
	maxLine    int
	header     bool
	headerCols []string
}

// newConfig applies the defaults, then opts in order, then checks the
// result. The error wraps ErrInvalidOption and names the option.
func newConfig(opts []Option) (config, error) {
	c := config{fenceTable: DefaultFenceTable, mode: 0o644, maxLine: 1 << 20}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	var errs []error
	if c.batchSet && c.batch < 1 {
		errs = append(errs, fmt.Errorf("WithBatchSize: %d rows, want 1 or more: %w", c.batch, ErrInvalidOption))
	}
	if c.fenceTable == "" {
		errs = append(errs, fmt.Errorf("WithFenceTable: empty name: %w", ErrInvalidOption))
	}
	if c.maxLine < 1 {
		errs = append(errs, fmt.Errorf("WithMaxLine: %d bytes, want 1 or more: %w", c.maxLine, ErrInvalidOption))
	}
	return c, errors.Join(errs...)
}

// WithBatchSize sets the rows of a batch: one multi-row INSERT statement
// for a database/sql sink (cut further when the statement would pass the
// database's parameter limit), one COPY for a PostgreSQL sink.
//
// The default is DefaultBatchSize (500) for INSERTs and
// DefaultCopyBatchSize (100,000) for COPY. Below 1, the sink's Load returns
// an error wrapping ErrInvalidOption.
func WithBatchSize(rows int) Option {
	return optionFunc(func(c *config) {
		c.batch, c.batchSet = rows, true
	})
}

// WithCommitPerBatch makes a sink commit each batch in a transaction of
// its own, so a load larger than the database should hold in one
// transaction keeps what it loaded when a later batch fails: the error (a
// *BatchError) says which batch, and the batches before it stay. A fenced
// sink checks the fence in each batch's transaction.
//
// The default is all or nothing: the whole load is one transaction, and a
// failure, a cancelled ctx or a killed process leaves the table as it was.
func WithCommitPerBatch() Option {
	return optionFunc(func(c *config) { c.perBatch = true })
}

// WithUpsert makes a sink update the rows whose key columns match a row
// already in the table instead of failing on them (INSERT ... ON CONFLICT
// (keys) DO UPDATE, as PostgreSQL and SQLite take it; through a temporary
// table for COPY), so that loading the same data again leaves the same
// table. The keys must be columns of the sink and carry a unique index or
// primary key in the table.
//
// The default is none: plain INSERT or COPY, and a duplicate key fails the
// batch.
func WithUpsert(keys ...string) Option {
	return optionFunc(func(c *config) { c.upsert = append(c.upsert, keys...) })
}

// A Fencer gives the fencing token of the run that holds a lock, or 0 when
// none does. *pglock.Locker is one.
type Fencer interface {
	Token() int64
}

// WithFence makes each load of a sink check the run's fencing token, from
// f at the time of the load, in the transaction of its rows: the target's
// fence row (in WithFenceTable, created when missing) is advanced to the
// token only when it holds a token no larger, and otherwise the load is
// refused with a *FencedError matching ErrFenced and writes nothing. So a
// run that lost its lock can never commit over a newer run's rows. A token
// of 0 (f holds no lock) is refused too. The fence row is named after the
// table unless name is given. The fence statement is INSERT ... ON
// CONFLICT ... RETURNING, as PostgreSQL and SQLite (3.35 or later) take
// it.
//
// The default is no fence.
func WithFence(f Fencer, name ...string) Option {
	return optionFunc(func(c *config) {
		c.fencer = f
		if len(name) > 0 {
			c.fenceName = name[0]
		}
	})
}

// WithFenceTable sets the table of the fence rows, which WithFence creates
// when missing: (target text primary key, token bigint not null).
//
// The default is DefaultFenceTable, "pigging_fences".
func WithFenceTable(name string) Option {
	return optionFunc(func(c *config) { c.fenceTable = name })
}

// WithSystem names the database for a database/sql source or sink, as the
// semantic conventions' db.system.name ("postgresql", "sqlite", "mysql",
// ...). It also picks the placeholders of the statements a sink writes:
// $1, $2 ... for "postgresql", ? for the others.
//
// The default is worked out from the driver's type ("postgresql" for pgx's
// stdlib and lib/pq, "sqlite" for modernc.org/sqlite and mattn/go-sqlite3,
// "mysql"), else "other_sql" with ? placeholders. A driver wrapped by an
// instrumentation (otelsql) hides its type: name the system then.
func WithSystem(name string) Option {
	return optionFunc(func(c *config) { c.system = name })
}

// WithNamespace sets db.namespace on the stage span: the database's name.
//
// The default is none, except for a PostgreSQL sink, which reads it from
// the connection.
func WithNamespace(name string) Option {
	return optionFunc(func(c *config) { c.namespace = name })
}

// WithCollection sets db.collection.name on the stage span for a Query
// source: the table it reads. A sink names its table itself.
//
// The default is none.
func WithCollection(name string) Option {
	return optionFunc(func(c *config) { c.collection = name })
}

// WithArgs sets the arguments of a Query's placeholders.
//
// The default is none.
func WithArgs(args ...any) Option {
	return optionFunc(func(c *config) { c.args = append(c.args, args...) })
}

// WithFileMode sets the permissions of a file a file sink writes. They
// are set with chmod, so the umask does not narrow them.
//
// The default is 0644.
func WithFileMode(perm fs.FileMode) Option {
	return optionFunc(func(c *config) { c.mode = perm })
}

// WithMaxLine bounds the length of one NDJSON line a source reads; a
// longer line is an error naming the file and line.
//
// The default is 1 MiB.
func WithMaxLine(bytes int) Option {
	return optionFunc(func(c *config) { c.maxLine = bytes })
}
