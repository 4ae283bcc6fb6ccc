package errtype_test

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/errtype"
)

type fieldErr struct{ field string }

func (e *fieldErr) Error() string { return "load failed: " + e.field }

type panicErr struct{}

func (panicErr) Error() string { panic("boom") }

type panicText struct{}

func (panicText) MarshalText() ([]byte, error) { panic("text boom") }

func TestMessage(t *testing.T) {
	var typedNil error = (*fieldErr)(nil)
	var pathNil error = (*os.PathError)(nil)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, "<nil>"},
		{"plain", errors.New("plain"), "plain"},
		{"typed nil reading a field", typedNil, "<nil *errtype_test.fieldErr>"},
		{"typed nil PathError", pathNil, "<nil *fs.PathError>"},
		{"Error panics", panicErr{}, "!PANIC in errtype_test.panicErr.Error: boom"},
		{"wrapped typed nil", errors.Join(typedNil), "!PANIC in *errors.joinError.Error: runtime error: invalid memory address or nil pointer dereference"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := errtype.Message(c.err); got != c.want {
				t.Errorf("Message = %q, want %q", got, c.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	cases := []struct {
		name string
		x    any
		want string
	}{
		{"nil", nil, "<nil>"},
		{"nil *time.Time", (*time.Time)(nil), "<nil *time.Time>"},
		{"MarshalText panics", panicText{}, "!PANIC in errtype_test.panicText.MarshalText: text boom"},
		{"typed nil error", (*fieldErr)(nil), "<nil *errtype_test.fieldErr>"},
		{"bytes", []byte("abc"), "abc"},
		{"int", 42, "42"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := errtype.Text(c.x); got != c.want {
				t.Errorf("Text = %q, want %q", got, c.want)
			}
		})
	}
}

// unwrapNil is an error whose Unwrap reads a field: on a typed nil it
// panics, and errors.As with it.
type unwrapNil struct{ inner error }

func (e *unwrapNil) Error() string { return "outer" }
func (e *unwrapNil) Unwrap() error { return e.inner }

func TestAs(t *testing.T) {
	inner := &fieldErr{"x"}
	if got, ok := errtype.As[*fieldErr](fmt.Errorf("a: %w", inner)); !ok || got != inner {
		t.Errorf("As through a wrap = %v, %v", got, ok)
	}
	if got, ok := errtype.As[*fieldErr](errors.New("plain")); ok || got != nil {
		t.Errorf("As of another error = %v, %v", got, ok)
	}
	var typedNil error = (*unwrapNil)(nil)
	if got, ok := errtype.As[*fieldErr](fmt.Errorf("a: %w", typedNil)); ok || got != nil {
		t.Errorf("As through a typed nil with Unwrap = %v, %v; want nil, false without a panic", got, ok)
	}
}
