package connect

import (
	"errors"
	"fmt"
	"strconv"
)

// Errors a connector returns, wrapped with what it was doing; compare them
// with errors.Is.
var (
	// ErrFenced means a fenced load was refused: the target's fence row
	// holds a fencing token larger than the run's, so a newer run has
	// loaded the target since this run's lock was taken (this run lost its
	// lock), or the Fencer held no lock at all (token 0). Nothing was
	// written: the refusal happens in the transaction of the rows.
	ErrFenced = errors.New("connect: fenced: a newer run holds the target")

	// ErrInvalidOption means an option or argument is out of range: a
	// batch size below 1, an empty table or column list, an upsert key that
	// is not one of the columns, a nil function.
	ErrInvalidOption = errors.New("connect: invalid option")
)

// FencedError is the error of a refused fenced load. It matches ErrFenced
// (errors.Is) and says which target refused which token, and the token the
// target holds.
type FencedError struct {
	Target string // the fence row's name: the table, or WithFence's name
	Token  int64  // the run's token
	Held   int64  // the token in the fence row, or 0 when unknown
}

// Error says which target refused which token, and that nothing was
// written.
func (e *FencedError) Error() string {
	if e.Token == 0 {
		return "connect: fenced: load into " + e.Target + " refused: the run holds no lock (fencing token 0)"
	}
	s := "connect: fenced: load into " + e.Target + " refused: run's fencing token " + strconv.FormatInt(e.Token, 10)
	if e.Held > 0 {
		s += " is older than token " + strconv.FormatInt(e.Held, 10) + " of a newer run"
	} else {
		s += " is older than the target's"
	}
	return s + "; this run has lost its lock, nothing was written"
}

// Is makes a *FencedError match ErrFenced.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// BatchError is the error of a batch the database refused: it names the
// table, the batch (from 1), and the row the database pointed at when it
// did (its index in the sequence, from 1; 0 when unknown), and wraps the
// database's error. In the default all-or-nothing mode the transaction was
// rolled back and the table is as it was; with WithCommitEvery, the
// batches before Batch were committed.
type BatchError struct {
	Table       string
	Batch       int   // the batch, from 1
	First, Last int64 // the rows of the batch in the sequence, from 1
	Row         int64 // the row the database named, from 1; 0 when it named none
	Err         error
}

// Error names the table, the batch, its rows and the row, then the
// database's error.
func (e *BatchError) Error() string {
	s := fmt.Sprintf("connect: load into %s: batch %d (rows %d-%d)", e.Table, e.Batch, e.First, e.Last)
	if e.Row > 0 {
		s += ", row " + strconv.FormatInt(e.Row, 10)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the database's error.
func (e *BatchError) Unwrap() error { return e.Err }

// LineError is an error in a file a source reads: it names the file and the
// line (from 1) and wraps the cause (a csv.ParseError, a JSON syntax error,
// the scan function's error).
type LineError struct {
	File string
	Line int64
	Err  error
}

// Error reads "file:line: cause".
func (e *LineError) Error() string {
	return e.File + ":" + strconv.FormatInt(e.Line, 10) + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *LineError) Unwrap() error { return e.Err }
