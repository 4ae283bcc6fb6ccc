package middleware

import (
	"reflect"
	"sync/atomic"
	"unsafe"
)

// lener is a collection that knows its length.
type lener interface{ Len() int }

var lenerType = reflect.TypeFor[lener]()

// countKind says how records of a type are counted; it is worked out once
// per wrapper, so a type that cannot be counted costs nothing per call.
type countKind uint8

const (
	countNone    countKind = iota // not a collection
	countLen                      // slice, array, map or string
	countLener                    // has a Len() int method
	countSeq                      // iter.Seq or iter.Seq2 shape: count items pulled
	countDynamic                  // interface type: decided per value
)

// counter counts the records in values of type T.
type counter[T any] struct {
	kind countKind
	ptr  bool // T is a pointer: a nil one is not counted
	typ  reflect.Type
	seq  seqCounter // for countSeq, when T's type was registered
}

func counterFor[T any]() counter[T] {
	t := reflect.TypeFor[T]()
	c := counter[T]{typ: t, ptr: t.Kind() == reflect.Pointer}
	switch {
	case t.Kind() == reflect.Interface:
		c.kind = countDynamic
	case t.Implements(lenerType):
		c.kind = countLener
	case t.Kind() == reflect.Slice, t.Kind() == reflect.Array, t.Kind() == reflect.Map, t.Kind() == reflect.String:
		c.kind = countLen
	case isSeq(t):
		c.kind = countSeq
		c.seq = seqCounterFor(t)
	}
	return c
}

// isSeq tells whether t has the shape of iter.Seq or iter.Seq2:
// func(yield func(V) bool) or func(yield func(K, V) bool).
func isSeq(t reflect.Type) bool {
	if t.Kind() != reflect.Func || t.NumIn() != 1 || t.NumOut() != 0 || t.IsVariadic() {
		return false
	}
	y := t.In(0)
	return y.Kind() == reflect.Func && (y.NumIn() == 1 || y.NumIn() == 2) &&
		y.NumOut() == 1 && y.Out(0).Kind() == reflect.Bool && !y.IsVariadic()
}

// count returns the number of records in v, and whether v has one.
func (c counter[T]) count(v T) (int64, bool) {
	switch c.kind {
	case countLen:
		// Common types without reflection; others by reflection.
		switch x := any(v).(type) {
		case []byte:
			return int64(len(x)), true
		case string:
			return int64(len(x)), true
		case []string:
			return int64(len(x)), true
		case []any:
			return int64(len(x)), true
		case map[string]any:
			return int64(len(x)), true
		case map[string]string:
			return int64(len(x)), true
		}
		return int64(reflect.ValueOf(&v).Elem().Len()), true
	case countLener:
		if c.ptr && reflect.ValueOf(&v).Elem().IsNil() {
			return 0, false
		}
		return int64(any(v).(lener).Len()), true
	case countDynamic:
		return dynamicLen(any(v))
	}
	return 0, false
}

// dynamicLen counts the records in x, whose type is known only now.
func dynamicLen(x any) (int64, bool) {
	switch x := x.(type) {
	case nil:
		return 0, false
	case []byte:
		return int64(len(x)), true
	case string:
		return int64(len(x)), true
	case lener:
		rv := reflect.ValueOf(x)
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return 0, false
		}
		return int64(x.Len()), true
	}
	switch rv := reflect.ValueOf(x); rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return int64(rv.Len()), true
	}
	return 0, false
}

// wrap returns, for a sequence, one that counts the items the consumer
// pulls from it, and the count; for anything else v itself and nil. The
// count goes up as each item is handed over, so it says how many the
// stage's function took, whether or not it ranged to the end. It buffers
// nothing. A sequence of a registered type (see RegisterSeq) costs a few
// allocations per call and none per item; any other costs a reflective
// call per item.
func (c counter[T]) wrap(v T) (T, *atomic.Int64) {
	if c.kind != countSeq {
		return v, nil
	}
	return c.wrapSeq(v)
}

// wrapSeq is wrap for a sequence. It is a function of its own so that v,
// which the counting sequence keeps, goes to the heap only here, not on
// every call of wrap.
//
//go:noinline
func (c counter[T]) wrapSeq(v T) (T, *atomic.Int64) {
	w := c.seq
	if w == nil {
		// Registered after the wrapper was made: look again.
		w = seqCounterFor(c.typ)
	}
	n := new(atomic.Int64)
	if w != nil {
		// T's underlying type is the one w was registered for, so the
		// memory of v is that of a function of that type.
		if !w(unsafe.Pointer(&v), n) {
			return v, nil
		}
		return v, n
	}
	return c.wrapReflect(v, n)
}

// wrapReflect counts the items of v, a sequence of a type nobody
// registered, through reflection: a reflective call per item.
func (c counter[T]) wrapReflect(v T, n *atomic.Int64) (T, *atomic.Int64) {
	seq := reflect.ValueOf(&v).Elem()
	if seq.IsNil() {
		return v, nil
	}
	yieldType := c.typ.In(0)
	counted := reflect.MakeFunc(c.typ, func(args []reflect.Value) []reflect.Value {
		yield := args[0]
		countingYield := reflect.MakeFunc(yieldType, func(item []reflect.Value) []reflect.Value {
			n.Add(1)
			return yield.Call(item)
		})
		return seq.Call([]reflect.Value{countingYield})
	})
	return counted.Interface().(T), n
}
