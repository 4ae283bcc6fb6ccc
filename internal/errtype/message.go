package errtype

import (
	"errors"
	"fmt"
	"reflect"
)

// Message returns err.Error(), or a readable stand-in when that cannot be
// had: "<nil>" for a nil error, "<nil *pkg.T>" for a typed nil pointer whose
// Error method panics, and "!PANIC in *pkg.T.Error: <value>" for an Error
// method that panics otherwise. It never panics, so a job that returns a
// broken error still has its failure recorded.
func Message(err error) (msg string) {
	if err == nil {
		return "<nil>"
	}
	defer func() {
		if v := recover(); v != nil {
			msg = panicText(err, "Error", v)
		}
	}()
	return err.Error()
}

// panicText says that method of x panicked with v, as Message does.
func panicText(x any, method string, v any) string {
	if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return fmt.Sprintf("<nil %T>", x)
	}
	return fmt.Sprintf("!PANIC in %T.%s: %v", x, method, v)
}

// Text returns the text a log line shows for x: its Error() for an error,
// its MarshalText() for an encoding.TextMarshaler, else fmt's %v. Like
// Message, it never panics.
func Text(x any) (s string) {
	defer func() {
		if v := recover(); v != nil {
			s = panicText(x, "String", v)
		}
	}()
	switch x := x.(type) {
	case nil:
		return "<nil>"
	case error:
		return Message(x)
	case interface{ MarshalText() ([]byte, error) }:
		b, err := marshalText(x)
		if err == nil {
			return string(b)
		}
	case []byte:
		return string(x)
	}
	return fmt.Sprint(x)
}

func marshalText(x interface{ MarshalText() ([]byte, error) }) (b []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			b, err = []byte(panicText(x, "MarshalText", v)), nil
		}
	}()
	return x.MarshalText()
}

// As is errors.As for a target of type E: it returns the first error in
// err's chain that is an E. It never panics: an Unwrap or As method that
// does (on a typed nil, say) ends the search with what was found so far.
func As[E error](err error) (target E, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ok = errors.As(err, &target)
	return target, ok
}
