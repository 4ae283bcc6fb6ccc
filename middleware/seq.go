package middleware

import (
	"context"
	"iter"
	"sync/atomic"
)

// LoadSeq wraps fn, a function that writes a stream of records somewhere,
// as the stage "load <name>", like Load, and counts the items fn pulls
// from its sequence as pigging.records.in: see Record counts in the
// package doc. V is inferred from fn; any element type is counted, a job's
// own struct included, at no allocation per item.
//
// It never panics: a nil fn, an empty name or a bad option makes each call
// return an error (ErrNilFunc, ErrEmptyName, ErrInvalidOption) that names
// the stage, and fn's error is returned unchanged, as with Load. A nil
// sequence is passed to fn as nil and not counted.
func LoadSeq[V any](name string, fn func(ctx context.Context, in iter.Seq[V]) error, opts ...Option) func(ctx context.Context, in iter.Seq[V]) error {
	return load(name, fn, countSeq[V], opts)
}

// LoadSeq2 is LoadSeq for a sequence of pairs, such as slices.All,
// maps.All or a reader that yields iter.Seq2[V, error]: each pair fn pulls
// is one record in, an error pair included.
func LoadSeq2[K, V any](name string, fn func(ctx context.Context, in iter.Seq2[K, V]) error, opts ...Option) func(ctx context.Context, in iter.Seq2[K, V]) error {
	return load(name, fn, countSeq2[K, V], opts)
}

// TransformSeq wraps fn, a function that reads a stream of records and
// returns a result, as the stage "transform <name>", like Transform: it
// counts the items fn pulls from its sequence as pigging.records.in (see
// LoadSeq), and the result as Transform does, as pigging.records.out.
// V and Out are inferred from fn. A result that is itself a sequence is
// returned as it is and not counted: the stage that ranges over it counts
// its items as its records in.
//
// It never panics, and returns fn's error unchanged: see LoadSeq.
func TransformSeq[V, Out any](name string, fn func(ctx context.Context, in iter.Seq[V]) (Out, error), opts ...Option) func(ctx context.Context, in iter.Seq[V]) (Out, error) {
	return transform(name, fn, countSeq[V], opts)
}

// TransformSeq2 is TransformSeq for a sequence of pairs: each pair fn
// pulls is one record in, an error pair included.
func TransformSeq2[K, V, Out any](name string, fn func(ctx context.Context, in iter.Seq2[K, V]) (Out, error), opts ...Option) func(ctx context.Context, in iter.Seq2[K, V]) (Out, error) {
	return transform(name, fn, countSeq2[K, V], opts)
}

// tally is the count of the records one attempt of a stage pulled from its
// sequence: each range over the counted sequence adds to it once, when it
// returns. A range that returns after the attempt adds to a tally nobody
// reads any more.
type tally struct{ n atomic.Int64 }

// counting returns a sequence that hands over the items of a sequence of
// type S and adds their number to t when each range returns, and whether
// it made one (false for a nil sequence, which is passed on as it is).
type counting[S any] func(seq S, t *tally) (S, bool)

// countSeq is the counting of iter.Seq[V]. The count of a range is a plain
// local, raised in the closure that hands each item over: a range calls
// its yield from one goroutine at a time, so it needs no atomic per item,
// and it is published once, in a deferred call, when the range returns,
// stopped early or panicking.
func countSeq[V any](seq iter.Seq[V], t *tally) (iter.Seq[V], bool) {
	if seq == nil {
		return nil, false
	}
	return func(yield func(V) bool) {
		n := int64(0)
		defer t.add(&n)
		seq(func(v V) bool {
			n++
			return yield(v)
		})
	}, true
}

// countSeq2 is the counting of iter.Seq2[K, V]: see countSeq.
func countSeq2[K, V any](seq iter.Seq2[K, V], t *tally) (iter.Seq2[K, V], bool) {
	if seq == nil {
		return nil, false
	}
	return func(yield func(K, V) bool) {
		n := int64(0)
		defer t.add(&n)
		seq(func(k K, v V) bool {
			n++
			return yield(k, v)
		})
	}, true
}

func (t *tally) add(n *int64) { t.n.Add(*n) }

// doIn calls fn with in, as c.do does, and counts the records in. Without
// count, it counts them as counter inc does, before the call, and hands
// in over as it is. With count, it hands fn a counting view of in made
// anew for each attempt, and sets c.in to the count of the last attempt
// made: a retried stage reports the records of the try that counted, not
// the sum of all tries. A call that is not observed counts nothing and
// hands in over as it is; so does a nil sequence.
func doIn[In any](c *call, in In, inc counter[In], count counting[In], fn func(context.Context, In) error) error {
	if !c.observed || count == nil {
		if c.observed {
			c.in, c.hasIn = inc.count(in)
		}
		return c.do(func(ctx context.Context) error { return fn(ctx, in) })
	}
	var t *tally
	err := c.do(func(ctx context.Context) error {
		t = new(tally)
		counted, ok := count(in, t)
		if !ok {
			t = nil
			return fn(ctx, in)
		}
		return fn(ctx, counted)
	})
	if t != nil {
		c.in, c.hasIn = t.n.Load(), true
	}
	return err
}
