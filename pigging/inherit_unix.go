//go:build unix

package pigging

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// LockFile returns a new descriptor of the open lock file on which the run
// holds its OS lock, for a child process to inherit (exec.Cmd.ExtraFiles).
// A flock(2) lock belongs to the open file, which the child then shares:
// the lock stays held while the child, or any process that inherited the
// descriptor from it, lives, even when this process is killed (SIGKILL)
// without stopping. Its lock file then still says "running", and no other
// run starts until the last holder has exited. Stop releases the lock as
// usual, whatever the child holds.
//
// The caller closes the returned file once the child has started. It
// returns an error before Start, after Stop, and when the run's lock is
// not a lock file (WithLocker).
func (t *Tracker) LockFile() (*os.File, error) {
	r := t.currentRun()
	if r == nil {
		return nil, ErrNotStarted
	}
	lf, ok := r.lease.(*lockFile)
	if !ok {
		return nil, errors.New("pigging: the run's lock is not a lock file")
	}
	fi, err := lf.fl.Stat()
	if err != nil {
		return nil, err
	}
	want, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, errors.New("pigging: no inode number for the lock file")
	}
	// gofrs/flock does not give its descriptor out: find it among the
	// process's open files, as the one open on the lock file's inode that
	// holds the lock (locking again is a no-op for the open file that
	// holds it, and fails for any other).
	fds, err := os.ReadDir("/dev/fd")
	if err != nil {
		return nil, fmt.Errorf("pigging: listing open files: %w", err)
	}
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) != nil || st.Dev != want.Dev || st.Ino != want.Ino {
			continue
		}
		if syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			continue
		}
		syscall.ForkLock.RLock()
		nfd, err := syscall.Dup(fd)
		if err == nil {
			syscall.CloseOnExec(nfd)
		}
		syscall.ForkLock.RUnlock()
		if err != nil {
			return nil, fmt.Errorf("pigging: duplicating the lock's descriptor: %w", err)
		}
		return os.NewFile(uintptr(nfd), lf.path), nil
	}
	return nil, errors.New("pigging: the lock's descriptor was not found among the open files")
}
