package middleware

import (
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"
)

// A seqCounter replaces the sequence at p, a function of the type it was
// registered for, with one that adds to n the number of items it hands to
// its consumer, and reports true; for a nil sequence it leaves p alone and
// reports false. It is built from the sequence's element types, so the
// count costs a closure per range and nothing per item.
type seqCounter func(p unsafe.Pointer, n *atomic.Int64) bool

// seqCounters maps the unnamed type of a sequence, func(func(V) bool) or
// func(func(K, V) bool), to its seqCounter.
var seqCounters sync.Map

// RegisterSeq makes the stage wrappers count, without reflection, the
// items of sequences of V: iter.Seq[V], and iter.Seq2[int, V],
// iter.Seq2[string, V] and iter.Seq2[V, error] (the shapes of
// slices.All, maps.All with string keys, and a reader that yields
// errors), including named types with those underlying types.
//
// A sequence given to Transform or Load is counted as its items are
// pulled (pigging.records.in). The element types listed in the package
// doc are registered already; for any other, counting costs a reflective
// call and a few allocations per item until it is registered. Call it
// before the stages run, in an init function or in main: a wrapper made
// earlier picks the registration up at its next call. Registering a type
// twice does no harm. It is safe for concurrent use.
func RegisterSeq[V any]() {
	registerSeq[V]()
	RegisterSeq2[int, V]()
	RegisterSeq2[string, V]()
	RegisterSeq2[V, error]()
}

// RegisterSeq2 makes the stage wrappers count, without reflection, the
// items of iter.Seq2[K, V] and of named types with that underlying type:
// see RegisterSeq. It is safe for concurrent use.
func RegisterSeq2[K, V any]() {
	seqCounters.Store(reflect.TypeFor[func(func(K, V) bool)](), seqCounter(countSeq2[K, V]))
}

func registerSeq[V any]() {
	seqCounters.Store(reflect.TypeFor[func(func(V) bool)](), seqCounter(countSeq1[V]))
}

func init() {
	registerBuiltin[any]()
	registerBuiltin[string]()
	registerBuiltin[[]byte]()
	registerBuiltin[[]string]()
	registerBuiltin[[]any]()
	registerBuiltin[map[string]any]()
	registerBuiltin[map[string]string]()
	registerBuiltin[int]()
	registerBuiltin[int64]()
	registerBuiltin[float64]()
	registerBuiltin[bool]()
}

// registerBuiltin is RegisterSeq for the element types counted from the
// start.
func registerBuiltin[V any]() { RegisterSeq[V]() }

// seqCounterFor returns the seqCounter of sequences of type t (named or
// not), or nil when none is registered.
func seqCounterFor(t reflect.Type) seqCounter {
	if t.Name() != "" {
		// A named type: look its underlying function type up.
		in := make([]reflect.Type, t.NumIn())
		for i := range in {
			in[i] = t.In(i)
		}
		t = reflect.FuncOf(in, nil, false)
	}
	if c, ok := seqCounters.Load(t); ok {
		return c.(seqCounter)
	}
	return nil
}

// countSeq1 is the seqCounter of func(func(V) bool).
func countSeq1[V any](p unsafe.Pointer, n *atomic.Int64) bool {
	sp := (*func(func(V) bool))(p)
	seq := *sp
	if seq == nil {
		return false
	}
	*sp = func(yield func(V) bool) {
		var k rangeCount
		defer k.addTo(n)
		seq(func(v V) bool {
			k++
			return yield(v)
		})
	}
	return true
}

// countSeq2 is the seqCounter of func(func(K, V) bool).
func countSeq2[K, V any](p unsafe.Pointer, n *atomic.Int64) bool {
	sp := (*func(func(K, V) bool))(p)
	seq := *sp
	if seq == nil {
		return false
	}
	*sp = func(yield func(K, V) bool) {
		var k rangeCount
		defer k.addTo(n)
		seq(func(key K, v V) bool {
			k++
			return yield(key, v)
		})
	}
	return true
}

// rangeCount counts the items of one range over a sequence. A sequence
// may be ranged over by several goroutines at once, but each range calls
// its yield from one goroutine at a time: a plain counter per range, added
// to the stage's total when the range ends (or panics), costs less per
// item than an atomic one.
type rangeCount int64

func (k *rangeCount) addTo(n *atomic.Int64) { n.Add(int64(*k)) }
