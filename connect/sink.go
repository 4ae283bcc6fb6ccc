package connect

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Sink loads sequences of T into one table of a database: made by Insert
// (any database/sql driver) or Copy (PostgreSQL through pgx). Its Load has
// the signature middleware.LoadSeq2 wraps:
//
//	load := middleware.LoadSeq2("customers", sink.Load)
//
// A Sink is safe for concurrent use when its database handle is; each Load
// is a transaction of its own (or one per batch with WithCommitPerBatch).
type Sink[T any] struct {
	cfg   config
	err   error // bad arguments: every Load returns it
	table string
	cols  []string
	row   func(v T, dst []any)
	b     backend
}

// backend is how a Sink reaches its database.
type backend interface {
	info() dbInfo
	// batchSize is the rows of a batch when WithBatchSize is not set, and
	// the most one may hold.
	batchSize(cols int) (def, max int)
	// ensureFence creates the fence table when missing.
	ensureFence(ctx context.Context, table string) error
	begin(ctx context.Context) (loadTx, error)
	// locate returns the row (from 1) of a batch of rows in vals that
	// made its write fail with err, or 0 when it cannot tell. It is
	// called after the load's transaction was rolled back.
	locate(ctx context.Context, vals []any, rows int, err error) int
}

// loadTx is one transaction of a load.
type loadTx interface {
	// fence advances target's fence row in table to token, and reports
	// whether it could; when not, held is the token the row holds.
	fence(ctx context.Context, table, target string, token int64) (held int64, ok bool, err error)
	// write sends one batch: rows rows of len(cols) values each, in vals.
	write(ctx context.Context, vals []any, rows int) error
	commit(ctx context.Context) error
	rollback(ctx context.Context) error
}

// Slice returns the items of s as a sequence with no errors, for Load. It
// cannot fail.
func Slice[T any](s []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, v := range s {
			if !yield(v, nil) {
				return
			}
		}
	}
}

// Seq returns the items of seq as a sequence with no errors, for Load. It
// cannot fail.
func Seq[T any](seq iter.Seq[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for v := range seq {
			if !yield(v, nil) {
				return
			}
		}
	}
}

func newSink[T any](b backend, table string, columns []string, row func(T, []any), opts []Option) *Sink[T] {
	c, err := newConfig(opts)
	s := &Sink[T]{cfg: c, table: table, cols: slices.Clone(columns), row: row, b: b}
	errs := []error{err}
	if table == "" {
		errs = append(errs, fmt.Errorf("table name is empty: %w", ErrInvalidOption))
	}
	if len(columns) == 0 {
		errs = append(errs, fmt.Errorf("no columns: %w", ErrInvalidOption))
	}
	if row == nil {
		errs = append(errs, fmt.Errorf("row function is nil: %w", ErrInvalidOption))
	}
	for _, k := range c.upsert {
		if !slices.Contains(columns, k) {
			errs = append(errs, fmt.Errorf("WithUpsert: key %q is not a column: %w", k, ErrInvalidOption))
		}
	}
	def, maxRows := b.batchSize(len(columns))
	if !c.batchSet {
		s.cfg.batch = def
	}
	if s.cfg.batch > maxRows {
		s.cfg.batch = maxRows
	}
	if c.fencer != nil && c.fenceName == "" {
		s.cfg.fenceName = table
	}
	if err := errors.Join(errs...); err != nil {
		s.err = fmt.Errorf("connect: sink %s: %w", table, err)
	}
	return s
}

// Load writes the rows of seq into the sink's table, in batches, and
// returns nil when all were committed.
//
// By default the load is one transaction: when seq hands over an error,
// the database refuses a batch, ctx is done or the process dies, nothing
// is committed and the table is as it was. With WithCommitPerBatch each
// batch commits on its own. With WithFence, the transaction first
// advances the target's fence row to the run's token, and a load whose
// token is older than the row's is refused, with a *FencedError matching
// ErrFenced, before any row is sent.
//
// Errors: a *BatchError naming the batch, its rows and the row the
// database named, wrapping the database's error; seq's own error wrapped
// with the row number; ctx's error; a *FencedError; an error wrapping
// ErrInvalidOption for bad arguments to Insert or Copy. When it returns,
// the span in ctx has pigging.sink.rows, pigging.sink.bytes,
// pigging.sink.batches and the db.* attributes (db.system.name,
// db.namespace, db.collection.name, db.operation.name).
func (s *Sink[T]) Load(ctx context.Context, seq iter.Seq2[T, error]) (err error) {
	if s.err != nil {
		return s.err
	}
	if seq == nil {
		return fmt.Errorf("connect: load into %s: the sequence is nil: %w", s.table, ErrInvalidOption)
	}
	l := &load[T]{s: s}
	defer l.report(ctx)
	if s.cfg.fencer != nil {
		l.token = s.cfg.fencer.Token()
		if l.token == 0 {
			return &FencedError{Target: s.cfg.fenceName}
		}
		if err := s.b.ensureFence(ctx, s.cfg.fenceTable); err != nil {
			return fmt.Errorf("connect: load into %s: creating the fence table %s: %w", s.table, s.cfg.fenceTable, err)
		}
	}
	defer func() {
		if rerr := l.rollback(ctx); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	if err := l.begin(ctx); err != nil {
		return err
	}
	if sb, ok := s.b.(streamBackend); ok && sb.streams() {
		return s.loadStream(ctx, l, seq)
	}
	nc := len(s.cols)
	l.vals = make([]any, 0, s.cfg.batch*nc)
	for v, err := range seq {
		if err != nil {
			return fmt.Errorf("connect: load into %s: row %d of the input: %w", s.table, l.rows+1, err)
		}
		if l.tx == nil {
			if err := l.begin(ctx); err != nil {
				return err
			}
		}
		l.vals = l.vals[:len(l.vals)+nc]
		s.row(v, l.vals[len(l.vals)-nc:])
		l.rows++
		if len(l.vals) == cap(l.vals) {
			if err := l.flush(ctx); err != nil {
				return err
			}
		}
	}
	if len(l.vals) > 0 {
		if err := l.flush(ctx); err != nil {
			return err
		}
	}
	if l.tx != nil {
		return l.commit(ctx)
	}
	return nil
}

// load is one Load call.
type load[T any] struct {
	s       *Sink[T]
	tx      loadTx
	token   int64
	vals    []any // the batch being filled, rows after rows
	rows    int64 // rows handed over so far
	sent    int64 // rows sent in batches
	bytes   int64
	batches int
}

// begin starts a transaction and, for a fenced sink, checks the fence in
// it.
func (l *load[T]) begin(ctx context.Context) error {
	s := l.s
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("connect: load into %s: %w", s.table, err)
	}
	tx, err := s.b.begin(ctx)
	if err != nil {
		return fmt.Errorf("connect: load into %s: begin: %w", s.table, err)
	}
	l.tx = tx
	if s.cfg.fencer == nil {
		return nil
	}
	held, ok, err := tx.fence(ctx, s.cfg.fenceTable, s.cfg.fenceName, l.token)
	if err != nil {
		return fmt.Errorf("connect: load into %s: checking the fence in %s: %w", s.table, s.cfg.fenceTable, err)
	}
	if !ok {
		return &FencedError{Target: s.cfg.fenceName, Token: l.token, Held: held}
	}
	return nil
}

// flush sends the batch being filled, and commits it with
// WithCommitPerBatch.
func (l *load[T]) flush(ctx context.Context) error {
	s := l.s
	n := len(l.vals) / len(s.cols)
	l.batches++
	first := l.sent + 1
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("connect: load into %s: batch %d: %w", s.table, l.batches, err)
	}
	for _, v := range l.vals {
		l.bytes += valueSize(v)
	}
	if err := l.tx.write(ctx, l.vals, n); err != nil {
		return l.failed(ctx, first, n, l.vals, err)
	}
	l.sent += int64(n)
	clear(l.vals)
	l.vals = l.vals[:0]
	if s.cfg.perBatch {
		return l.commit(ctx)
	}
	return nil
}

// failed rolls the load back after its batch of n rows from row first
// (vals, when the batch is buffered) failed with err, and returns the
// load's error: ctx's when ctx is done (the statement failed because it
// was cancelled), else a *BatchError naming the row the database refused
// when it can be found.
func (l *load[T]) failed(ctx context.Context, first int64, n int, vals []any, err error) error {
	s := l.s
	rerr := l.rollback(ctx)
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("connect: load into %s: batch %d: %w (%v)", s.table, l.batches, cerr, err)
	}
	be := &BatchError{Table: s.table, Batch: l.batches, First: first, Last: first + int64(n) - 1, Err: err}
	if row := s.b.locate(ctx, vals, n, err); row > 0 {
		be.Row = first + int64(row) - 1
	}
	if rerr != nil {
		return errors.Join(be, rerr)
	}
	return be
}

// rollback ends the load's transaction without committing it, even when
// ctx is done (bounded by 30 s), and returns an error only when the
// database reported one that is not about a transaction already ended.
func (l *load[T]) rollback(ctx context.Context) error {
	tx := l.tx
	l.tx = nil
	if tx == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := tx.rollback(rctx); err != nil {
		return fmt.Errorf("connect: load into %s: rollback: %w", l.s.table, err)
	}
	return nil
}

func (l *load[T]) commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("connect: load into %s: not committed: %w", l.s.table, err)
	}
	tx := l.tx
	l.tx = nil
	if err := tx.commit(ctx); err != nil {
		return fmt.Errorf("connect: load into %s: commit: %w", l.s.table, err)
	}
	return nil
}

// report sets the load's figures on the span in ctx.
func (l *load[T]) report(ctx context.Context) {
	info := l.s.b.info()
	info.collection = l.s.table
	if l.s.cfg.namespace != "" {
		info.namespace = l.s.cfg.namespace
	}
	kv := make([]attribute.KeyValue, 0, 9)
	// No db.operation.batch.size: a batch is one statement (a multi-row
	// INSERT, a COPY), and the conventions count operations in a batch,
	// not the rows one operation takes.
	kv = append(kv, KeySinkRows.Int64(l.sent), KeySinkBytes.Int64(l.bytes), KeySinkBatches.Int(l.batches))
	report(ctx, info.attrs(kv))
}

// quoteIdent quotes a possibly schema-qualified name with q ("" for
// standard SQL, ` for MySQL).
func quoteIdent(name string, q string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = q + strings.ReplaceAll(p, q, q+q) + q
	}
	return strings.Join(parts, ".")
}
