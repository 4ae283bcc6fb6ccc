package pigging

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Reasons a PathError gives.
var (
	errEmptyPath = errors.New("is empty")
	errSymlink   = errors.New("is a symlink; pigging does not follow links, so that a job cannot be made to truncate or lock another file")
	errIsDir     = errors.New("is a directory")
	errNotFile   = errors.New("is not a regular file (a FIFO, a device or a socket); pigging writes only regular files")
)

func pathError(role, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, syscall.ELOOP):
		err = errSymlink
	case errors.Is(err, syscall.EISDIR):
		err = errIsDir
	case errors.Is(err, syscall.ENXIO):
		err = errNotFile // a FIFO with no reader, opened without blocking
	}
	return &PathError{Op: role, Path: path, Err: err}
}

// checkPath refuses a path (abs, the one given made absolute) that is a
// symlink, a directory or some other non-regular file, a file with more
// than one name, one owned by another user when the job runs as root, or
// whose directory does not exist or, for a job run as root, could be
// redirected by another user. It touches nothing. Errors name the path as
// given.
func checkPath(role, given, abs string) error {
	fi, err := os.Lstat(abs)
	if err == nil {
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return &PathError{Op: role, Path: given, Err: errSymlink}
		case fi.IsDir():
			return &PathError{Op: role, Path: given, Err: errIsDir}
		case !fi.Mode().IsRegular():
			return &PathError{Op: role, Path: given, Err: errNotFile}
		}
		// A lock file's links and owner are checked once it is locked: a
		// run creating it links it under a second name for a moment.
		if role == "log" {
			if err := errors.Join(nlinkErr(fi), ownerErr(fi)); err != nil {
				return &PathError{Op: role, Path: given, Err: err}
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return pathError(role, given, err)
	}
	dir := filepath.Dir(abs)
	di, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &PathError{Op: role, Path: given, Err: &dirError{dir: filepath.Dir(given), err: fs.ErrNotExist}}
		}
		return pathError(role, given, err)
	}
	if !di.IsDir() {
		return &PathError{Op: role, Path: given, Err: &dirError{dir: filepath.Dir(given), err: syscall.ENOTDIR}}
	}
	if err := dirErr(dir); err != nil {
		return &PathError{Op: role, Path: given, Err: err}
	}
	return nil
}

// dirError says the directory a path should be in is missing.
type dirError struct {
	dir string
	err error
}

func (e *dirError) Error() string {
	if errors.Is(e.err, fs.ErrNotExist) {
		return "its directory " + e.dir + " does not exist"
	}
	return e.dir + " is not a directory"
}

func (e *dirError) Unwrap() error { return e.err }

// sameFileOnDisk reports whether a and b, which checkPath has accepted,
// name one file: the same existing file (a hard link included), or the same
// name in one directory reached through different paths (a symlinked
// directory, say). It creates nothing.
func sameFileOnDisk(a, b string) bool {
	fa, errA := os.Lstat(a)
	fb, errB := os.Lstat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	if filepath.Base(a) != filepath.Base(b) {
		return false
	}
	da, errA := os.Stat(filepath.Dir(a))
	db, errB := os.Stat(filepath.Dir(b))
	return errA == nil && errB == nil && os.SameFile(da, db)
}

// sameFilePath reports whether a and b name the same file once cleaned and
// made absolute.
func sameFilePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return aa == bb
}
