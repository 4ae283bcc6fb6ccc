package pglock

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxJobLen is the longest job name, in bytes, that New accepts. The name
// is the table's primary key, and a btree index entry holds at most about
// 2.7 KB (a third of a page); 2048 bytes leaves room for any encoding
// the server stores it with.
const MaxJobLen = 2048

// maxAppName is the longest application_name the server keeps
// (NAMEDATALEN-1); the name each connection sends is cut to it.
const maxAppName = 63

// ErrInvalidJob is what New's error wraps when the job name cannot be used
// as a lock's name: empty, longer than MaxJobLen, not UTF-8, or holding a
// NUL byte. Test for it with errors.Is; errors.As gives the *JobError.
var ErrInvalidJob = errors.New("invalid job name")

// JobError is the error New returns for a job name it refuses. It unwraps
// to ErrInvalidJob.
type JobError struct {
	Len    int    // the name's length in bytes
	Reason string // what is wrong with it
}

// Error names the argument, its length and what is wrong, without
// repeating the name.
func (e *JobError) Error() string {
	return "pglock: New: argument job (" + strconv.Itoa(e.Len) + " bytes): " + e.Reason
}

// Unwrap returns ErrInvalidJob.
func (e *JobError) Unwrap() error { return ErrInvalidJob }

// checkJob returns a *JobError when job cannot be used, else nil.
func checkJob(job string) error {
	var why string
	switch {
	case job == "":
		why = "the job name is empty"
	case len(job) > MaxJobLen:
		why = "longer than the " + strconv.Itoa(MaxJobLen) + " bytes (MaxJobLen) the lock table's key takes"
	case !utf8.ValidString(job):
		why = "not valid UTF-8, which the server's text does not take"
	case strings.IndexByte(job, 0) >= 0:
		why = "holds a NUL byte, which the server's text does not take"
	default:
		return nil
	}
	return &JobError{Len: len(job), Reason: why}
}

// cutName returns s cut to at most n bytes on a character boundary.
func cutName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
