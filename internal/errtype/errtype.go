// Package errtype names an error for the error.type and exception.type
// attributes of the OpenTelemetry semantic conventions, makes exceptions as
// those conventions describe them (span events and log records alike), and
// reads where exceptions go (OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN).
package errtype

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// Other is the name the semantic conventions give an error with no type of
// its own, such as one made by errors.New.
const Other = "_OTHER"

// Of names err for the error.type attribute, as semconv.ErrorType of the
// semantic conventions does: the value of an ErrorType() string method of err
// or of an error in its chain (found as errors.As finds it, through
// errors.Join too), else the most specific error's type as TypeName finds
// it, named with its package's name rather than path ("*pigging.LockError"),
// else Other for an error with no type of its own (errors.New). A nil
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
	if name = shortName(err); name == "*errors.errorString" {
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
// exception.type attribute, fully qualified as the semantic conventions
// ask: it skips the generic wrappers made by fmt.Errorf and errors.Join
// (following the first error of a join), names context errors as the
// variables callers compare with ("context.DeadlineExceeded"), and any
// other error by its Go type with the package path
// ("*errors.errorString", "*github.com/pigging-go/pigging/pigging.LockError";
// never Other). It never panics: an Unwrap method that does (on a typed
// nil, say) ends the walk at the error that has it.
func TypeName(err error) string { return typeName(err, qualified) }

// shortName is TypeName with the package's name for its path
// ("*pigging.LockError"), as error.type has always said it.
func shortName(err error) string {
	return typeName(err, func(t reflect.Type) string {
		if t == nil {
			return "<nil>"
		}
		return t.String()
	})
}

// typeName walks err's chain as TypeName says and names the most specific
// error's type with name.
func typeName(err error, name func(reflect.Type) string) (s string) {
	defer func() {
		if recover() != nil {
			s = name(reflect.TypeOf(err))
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
		t := reflect.TypeOf(err)
		if t != fmtWrapError && t != fmtWrapErrors && t != joinError {
			return name(t)
		}
		next := errors.Unwrap(err)
		if next == nil {
			if ws, ok := err.(interface{ Unwrap() []error }); ok && len(ws.Unwrap()) > 0 {
				next = ws.Unwrap()[0]
			}
		}
		if next == nil {
			return name(t)
		}
		err = next
	}
}

// The types of the generic wrappers TypeName looks through.
var (
	fmtWrapError  = reflect.TypeOf(fmt.Errorf("%w", errors.New("")))
	fmtWrapErrors = reflect.TypeOf(fmt.Errorf("%w %w", errors.New(""), errors.New("")))
	joinError     = reflect.TypeOf(errors.Join(errors.New("")))
)

// qualified names t with its package path: "pkg/path.Name", with a "*"
// for each pointer, or t's own text for a type with no name
// ("[]string").
func qualified(t reflect.Type) string {
	if t == nil {
		return "<nil>"
	}
	stars := 0
	for t.Kind() == reflect.Pointer && t.Name() == "" {
		stars++
		t = t.Elem()
	}
	name := t.String()
	if pkg := t.PkgPath(); pkg != "" && t.Name() != "" {
		name = pkg + "." + t.Name()
	}
	return strings.Repeat("*", stars) + name
}

// Keys of the semantic conventions for errors and exception events.
const (
	KeyErrorType  = attribute.Key("error.type")
	KeyExcType    = attribute.Key("exception.type")
	KeyExcMessage = attribute.Key("exception.message")
	KeyExcStack   = attribute.Key("exception.stacktrace")
)

// Attrs are the attributes of an exception for err, as the semantic
// conventions describe them: exception.type (TypeName, never Other),
// exception.message, and exception.stacktrace when stack is not empty.
func Attrs(err error, stack []byte) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, KeyExcType.String(TypeName(err)), KeyExcMessage.String(Message(err)))
	if len(stack) > 0 {
		attrs = append(attrs, KeyExcStack.String(string(stack)))
	}
	return attrs
}

// AddException adds an "exception" event for err to span, with Attrs.
func AddException(span trace.Span, err error, stack []byte) {
	span.AddEvent(EventException, trace.WithAttributes(Attrs(err, stack)...))
}

// EventException is the name of an exception event and of its log record.
const EventException = "exception"

// Record returns the "exception" log record of err, at ERROR: err itself
// (Record.SetErr, for the SDK and exporters that read it), the message as
// its body, and the Attrs. The attributes are set here, not left for the
// SDK to derive from err: the SDK calls err.Error() unguarded (a typed nil
// or a panicking Error method would crash the job) and names a pointer
// type without its package path; attributes given take precedence over
// derived ones, so the SDK then leaves err alone. The caller sets the time
// and emits it; the observed time is left to the SDK.
func Record(err error, stack []byte) otellog.Record {
	var lr otellog.Record
	lr.SetEventName(EventException)
	lr.SetSeverity(otellog.SeverityError)
	lr.SetSeverityText("ERROR")
	lr.SetErr(err)
	attrs := Attrs(err, stack)
	lr.SetBody(attrs[1].Value)
	lr.AddAttributes(attrs...)
	return lr
}

// Signals says where exceptions go: span events, log records, or both.
type Signals struct{ Spans, Logs bool }

// SignalsFromEnv reads OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN, a
// comma-separated list: "logs" moves exceptions to log records,
// "logs/dup" sends them to both; unset (or anything else) keeps them as
// span events.
func SignalsFromEnv() Signals {
	for v := range strings.SplitSeq(os.Getenv("OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN"), ",") {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "logs":
			return Signals{Logs: true}
		case "logs/dup":
			return Signals{Spans: true, Logs: true}
		}
	}
	return Signals{Spans: true}
}
