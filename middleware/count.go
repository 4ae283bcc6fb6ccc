package middleware

import "reflect"

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
	countDynamic                  // interface type: decided per value
)

// counter counts the records in values of type T.
type counter[T any] struct {
	kind countKind
	ptr  bool // T is a pointer: a nil one is not counted
}

func counterFor[T any]() counter[T] {
	t := reflect.TypeFor[T]()
	c := counter[T]{ptr: t.Kind() == reflect.Pointer}
	switch {
	case t.Kind() == reflect.Interface:
		c.kind = countDynamic
	case t.Implements(lenerType):
		c.kind = countLener
	case t.Kind() == reflect.Slice, t.Kind() == reflect.Array, t.Kind() == reflect.Map, t.Kind() == reflect.String:
		c.kind = countLen
	}
	return c
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
