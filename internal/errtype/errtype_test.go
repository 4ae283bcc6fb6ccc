package errtype_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/pigging-go/pigging/internal/errtype"
)

type myErr struct{}

func (*myErr) Error() string { return "mine" }

func TestOf(t *testing.T) {
	plain := errors.New("plain")
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, "_OTHER"},
		{"errors.New", plain, "_OTHER"},
		{"own type", &myErr{}, "*errtype_test.myErr"},
		{"wrapped own type", fmt.Errorf("load: %w", &myErr{}), "*errtype_test.myErr"},
		{"two wraps", fmt.Errorf("a: %w", fmt.Errorf("b: %w", &myErr{})), "*errtype_test.myErr"},
		{"multi wrap takes the first", fmt.Errorf("%w and %w", &myErr{}, plain), "*errtype_test.myErr"},
		{"join takes the first", errors.Join(&fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}, plain), "*fs.PathError"},
		{"deadline", context.DeadlineExceeded, "context.DeadlineExceeded"},
		{"wrapped deadline", fmt.Errorf("attempt 2: %w", context.DeadlineExceeded), "context.DeadlineExceeded"},
		{"canceled", context.Canceled, "context.Canceled"},
		{"Errorf without %w", fmt.Errorf("no wrap"), "_OTHER"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errtype.Of(tc.err); got != tc.want {
				t.Errorf("Of(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestAddException(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, span := tp.Tracer("test").Start(context.Background(), "s")
	errtype.AddException(span, fmt.Errorf("load: %w", &myErr{}), nil)
	errtype.AddException(span, errors.New("boom"), []byte("goroutine 1 [running]:\nmain.main()"))
	span.End()

	evs := rec.Ended()[0].Events()
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	want := []map[attribute.Key]string{
		{"exception.type": "*github.com/pigging-go/pigging/internal/errtype_test.myErr", "exception.message": "load: mine"},
		{"exception.type": "*errors.errorString", "exception.message": "boom", "exception.stacktrace": "goroutine 1 [running]:\nmain.main()"},
	}
	for i, e := range evs {
		if e.Name != "exception" {
			t.Errorf("event %d is %q, want exception", i, e.Name)
		}
		got := map[attribute.Key]string{}
		for _, kv := range e.Attributes {
			got[kv.Key] = kv.Value.AsString()
		}
		if !maps.Equal(got, want[i]) {
			t.Errorf("event %d attributes = %v, want %v", i, got, want[i])
		}
	}
}

type namedErr struct{}

func (namedErr) Error() string     { return "named" }
func (namedErr) ErrorType() string { return "warehouse.refused" }

// error.type honours an ErrorType method anywhere in the chain, joins
// included; exception.type is always the Go type, never _OTHER.
func TestErrorTypeMethodAndTypeName(t *testing.T) {
	plain := errors.New("plain")
	cases := []struct {
		name         string
		err          error
		wantOf, want string
	}{
		{"ErrorType method", namedErr{}, "warehouse.refused", "github.com/pigging-go/pigging/internal/errtype_test.namedErr"},
		{"wrapped", fmt.Errorf("load: %w", namedErr{}), "warehouse.refused", "github.com/pigging-go/pigging/internal/errtype_test.namedErr"},
		{"pointer, wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", &myErr{})), "*errtype_test.myErr", "*github.com/pigging-go/pigging/internal/errtype_test.myErr"},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), "context.DeadlineExceeded", "context.DeadlineExceeded"},
		{"second of a join", errors.Join(plain, namedErr{}), "warehouse.refused", "*errors.errorString"},
		{"errors.New", plain, errtype.Other, "*errors.errorString"},
	}
	for _, c := range cases {
		if got := errtype.Of(c.err); got != c.wantOf {
			t.Errorf("%s: Of = %q, want %q", c.name, got, c.wantOf)
		}
		if got := errtype.TypeName(c.err); got != c.want {
			t.Errorf("%s: TypeName = %q, want %q", c.name, got, c.want)
		}
	}
}

// The exception log record hands the SDK the error itself and carries the
// same exception.type as the span event: the fully qualified Go type,
// never _OTHER.
func TestRecord(t *testing.T) {
	err := fmt.Errorf("load: %w", errors.New("boom"))
	r := errtype.Record(err, []byte("stack"))
	if r.Err() != err {
		t.Errorf("Err = %v, want the error itself", r.Err())
	}
	if r.EventName() != "exception" || r.Body().AsString() != "load: boom" {
		t.Errorf("event %q body %q", r.EventName(), r.Body().AsString())
	}
	got := map[attribute.Key]string{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool { got[kv.Key] = kv.Value.AsString(); return true })
	want := map[attribute.Key]string{"exception.type": "*errors.errorString", "exception.message": "load: boom", "exception.stacktrace": "stack"}
	if !maps.Equal(got, want) {
		t.Errorf("attributes = %v, want %v", got, want)
	}
}

func TestSignalsFromEnv(t *testing.T) {
	for env, want := range map[string]errtype.Signals{
		"":               {Spans: true},
		"logs":           {Logs: true},
		"http, logs":     {Logs: true},
		"logs/dup":       {Spans: true, Logs: true},
		"something else": {Spans: true},
	} {
		t.Setenv("OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN", env)
		if got := errtype.SignalsFromEnv(); got != want {
			t.Errorf("%q: %+v, want %+v", env, got, want)
		}
	}
}
