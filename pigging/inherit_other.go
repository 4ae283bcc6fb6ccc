//go:build !unix

package pigging

import (
	"errors"
	"os"
)

// LockFile returns an error where a child process cannot share the run's
// OS lock: on Windows a lock belongs to the handle that took it, and a
// child given a copy does not keep it held.
func (t *Tracker) LockFile() (*os.File, error) {
	return nil, errors.New("pigging: a child process cannot hold the lock on this system")
}
