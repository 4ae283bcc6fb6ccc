package pigging

import (
	"github.com/pigging-go/pigging/internal/errtype"
)

// PanicError is a recovered panic turned into an error: the value passed to
// panic and the stack of the goroutine that panicked. Run returns one for a
// panic in its function, and the middleware returns one for a panic in a
// stage (middleware.PanicError is the same type).
type PanicError struct {
	// Value is the value the code panicked with.
	Value any
	// Stack is the full stack of the panicking goroutine, as debug.Stack
	// returns it.
	Stack []byte
}

// Error returns "panic: " and the value, read without ever panicking.
func (e *PanicError) Error() string {
	return "panic: " + errtype.Text(e.Value)
}

// Unwrap returns the panic value when it is an error, else nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
