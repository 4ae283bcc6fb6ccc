// Package errtype names an error for the error.type and exception.type span
// attributes of the OpenTelemetry semantic conventions, and adds exception
// events as those conventions describe them.
package errtype

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Other is the name the semantic conventions give an error with no type of
// its own, such as one made by errors.New.
const Other = "_OTHER"

// Of names err for the error.type attribute, as semconv.ErrorType of the
// semantic conventions does: the value of an ErrorType() string method of err
// or of an error in its chain (found as errors.As finds it, through
// errors.Join too), else the most specific error's type as TypeName gives
// it, else Other for an error with no type of its own (errors.New). A nil
// err is named Other. It never panics.
func Of(err error) (name string) {
	if err == nil {
		return Other
	}
	if et, ok := As[typedError](err); ok {
		if s := errorTypeOf(et); s != "" {
			return s
		}
	}
	if name = TypeName(err); name == "*errors.errorString" {
		return Other
	}
	return name
}

// typedError is an error that names its own error.type.
type typedError interface {
	error
	ErrorType() string
}

func errorTypeOf(et typedError) (s string) {
	defer func() {
		if recover() != nil {
			s = ""
		}
	}()
	return et.ErrorType()
}

// TypeName names the most specific error in err's chain, for the
// exception.type attribute: it skips the generic wrappers made by
// fmt.Errorf and errors.Join (following the first error of a join), names
// context errors as the variables callers compare with
// ("context.DeadlineExceeded"), and any other error by its Go type
// ("*pigging.LockError", "*errors.errorString"; never Other). It never
// panics: an Unwrap method that does (on a typed nil, say) ends the walk at
// the error that has it.
func TypeName(err error) (name string) {
	defer func() {
		if recover() != nil {
			name = fmt.Sprintf("%T", err)
		}
	}()
	if err == nil {
		return "<nil>"
	}
	for {
		switch err {
		case context.DeadlineExceeded:
			return "context.DeadlineExceeded"
		case context.Canceled:
			return "context.Canceled"
		}
		name := fmt.Sprintf("%T", err)
		if name != "*fmt.wrapError" && name != "*fmt.wrapErrors" && name != "*errors.joinError" {
			return name
		}
		next := errors.Unwrap(err)
		if next == nil {
			if ws, ok := err.(interface{ Unwrap() []error }); ok && len(ws.Unwrap()) > 0 {
				next = ws.Unwrap()[0]
			}
		}
		if next == nil {
			return name
		}
		err = next
	}
}

// Keys of the semantic conventions for errors and exception events.
const (
	KeyErrorType  = attribute.Key("error.type")
	KeyExcType    = attribute.Key("exception.type")
	KeyExcMessage = attribute.Key("exception.message")
	KeyExcStack   = attribute.Key("exception.stacktrace")
)

// AddException adds an "exception" event for err to span, as the semantic
// conventions describe it: exception.type (Of err), exception.message, and
// exception.stacktrace when stack is not empty.
func AddException(span trace.Span, err error, stack []byte) {
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, KeyExcType.String(Of(err)), KeyExcMessage.String(Message(err)))
	if len(stack) > 0 {
		attrs = append(attrs, KeyExcStack.String(string(stack)))
	}
	span.AddEvent("exception", trace.WithAttributes(attrs...))
}
