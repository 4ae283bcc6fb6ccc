package pigging

import (
	"fmt"
	"runtime/debug"
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

// NewPanicError returns a *PanicError for v with the current goroutine's
// stack. Call it from the deferred function that recovered v.
func NewPanicError(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// Error returns "panic: " and the value.
func (e *PanicError) Error() string {
	if err, ok := e.Value.(error); ok {
		return "panic: " + err.Error()
	}
	return fmt.Sprintf("panic: %v", e.Value)
}

// Unwrap returns the panic value when it is an error, else nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
