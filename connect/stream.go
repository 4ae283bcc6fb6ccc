package connect

import (
	"context"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"
)

// streamBackend is a backend whose batches pull their rows from the input
// as they send them (COPY), with no batch buffered.
type streamBackend interface {
	streams() bool
}

// streamTx is the transaction of a streamBackend.
type streamTx interface {
	copyRows(ctx context.Context, src pgx.CopyFromSource) error
}

// loadStream is Load for a streamBackend: each batch is one COPY that
// pulls up to the batch size of rows from seq.
func (s *Sink[T]) loadStream(ctx context.Context, l *load[T], seq iter.Seq2[T, error]) error {
	next, stop := iter.Pull2(seq)
	defer stop()
	p := &rowPull[T]{next: next, row: s.row, dst: make([]any, len(s.cols))}
	for p.peek() {
		if l.tx == nil {
			if err := l.begin(ctx); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("connect: load into %s: batch %d: %w", s.table, l.batches+1, err)
		}
		l.batches++
		first := l.sent + 1
		p.n, p.limit = 0, s.cfg.batch
		err := l.tx.(streamTx).copyRows(ctx, p)
		l.bytes += p.bytes
		p.bytes = 0
		if p.err != nil {
			return fmt.Errorf("connect: load into %s: row %d of the input: %w", s.table, l.sent+int64(p.n)+1, p.err)
		}
		if err != nil {
			return l.failed(ctx, first, p.n, nil, err)
		}
		l.sent += int64(p.n)
		if s.cfg.perBatch {
			if err := l.commit(ctx); err != nil {
				return err
			}
		}
	}
	if p.err != nil {
		return fmt.Errorf("connect: load into %s: row %d of the input: %w", s.table, l.sent+1, p.err)
	}
	if l.tx != nil {
		return l.commit(ctx)
	}
	return nil
}

// rowPull is a pgx.CopyFromSource of up to limit rows pulled from a
// sequence: each row is made by row into dst, which is reused (pgx
// encodes a row before it asks for the next).
type rowPull[T any] struct {
	next     func() (T, error, bool)
	row      func(T, []any)
	dst      []any
	limit, n int
	bytes    int64
	err      error // the input's error
	done     bool
	pending  bool
	pv       T
}

// peek pulls the next item, if not pulled already, and says whether there
// is one.
func (p *rowPull[T]) peek() bool {
	if p.pending {
		return true
	}
	if p.done {
		return false
	}
	v, err, ok := p.next()
	if !ok || err != nil {
		p.done, p.err = true, err
		return false
	}
	p.pv, p.pending = v, true
	return true
}

func (p *rowPull[T]) Next() bool {
	if p.n >= p.limit || !p.peek() {
		return false
	}
	p.row(p.pv, p.dst)
	var zero T
	p.pv, p.pending = zero, false
	for _, v := range p.dst {
		p.bytes += valueSize(v)
	}
	p.n++
	return true
}

func (p *rowPull[T]) Values() ([]any, error) { return p.dst, nil }

func (p *rowPull[T]) Err() error { return p.err }
