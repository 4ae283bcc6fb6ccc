package errtype_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

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
