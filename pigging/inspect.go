package pigging

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// LockState is what a lock file says about its job: free, running, or stale.
type LockState int

const (
	// LockFree means there is no lock file: a run may start.
	LockFree LockState = iota
	// LockRunning means a live run holds the lock.
	LockRunning
	// LockStale means a run that failed, was cancelled or died left the
	// lock file, or the file cannot be read as one pigging wrote: the next
	// run is refused until it is cleared (Unlock) or taken over.
	LockStale
)

// String returns "free", "running" or "stale".
func (s LockState) String() string {
	switch s {
	case LockFree:
		return "free"
	case LockRunning:
		return "running"
	case LockStale:
		return "stale"
	}
	return fmt.Sprintf("LockState(%d)", int(s))
}

// LockStatus is what ReadLock found at a lock path.
type LockStatus struct {
	// Path is the lock file, as given.
	Path string
	// State is free, running or stale.
	State LockState
	// Holder is what the file says of the run that holds or left it; nil
	// when the lock is free or the file does not say.
	Holder *LockInfo
	// Detail says why Holder is nil for a stale lock (empty, not JSON,
	// too large), or how a running lock is known to be live.
	Detail string
}

// ReadLock reports the state of the lock file at path without changing
// it: free (no file), running (a live process holds it) or stale (left by
// a run that failed, was cancelled or died), with what the file says. It
// is safe to call while jobs run, and at the same time as other calls of
// ReadLock, Unlock and Start: it takes a shared OS lock for a moment, which
// other inspections share and a run never holds, and it waits a moment for
// a lock held briefly (by an Unlock, or a Start that is being refused)
// before it reports it running. A run whose log is held is reported
// running at once.
//
// It returns a *PathError for a path that cannot be read as a lock file (a
// symlink, a directory, a FIFO, a missing directory).
func ReadLock(path string) (*LockStatus, error) {
	st, fl, err := inspectLock(path, false)
	if fl != nil {
		_ = fl.Unlock()
	}
	return st, err
}

// inspectLock is ReadLock. With exclusive it takes the OS lock of a stale
// file exclusively and returns it held, so that Unlock can remove the file
// it inspected; else it holds a shared lock only while it checks that the
// path names the file it opened, and returns none.
func inspectLock(path string, exclusive bool) (*LockStatus, *flock.Flock, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, &PathError{Op: "lock", Path: path, Err: err}
	}
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		st := &LockStatus{Path: path}
		f, fi, err := openLockFile(abs, path)
		if err != nil {
			return nil, nil, err
		}
		if f == nil {
			return st, nil, nil // free
		}
		fl := flock.New(abs, flock.SetFlag(os.O_RDONLY|oNoFollow|oNonblock))
		var ok bool
		if exclusive {
			ok, err = fl.TryLock()
		} else {
			ok, err = fl.TryRLock()
		}
		if errors.Is(err, fs.ErrNotExist) {
			f.Close()
			continue // removed meanwhile: look again
		}
		if err != nil {
			f.Close()
			return nil, nil, pathError("lock", path, err)
		}
		if !ok {
			st.readHolder(f)
			f.Close()
			waited := time.Since(start)
			if exclusive && waited < lockRetryFor && sharedFree(abs) {
				continue // only other inspections hold it, for a moment
			}
			if briefHold(st.Holder, waited) {
				continue // maybe held for a moment: an Unlock, a refused Start
			}
			st.State = LockRunning
			return st, nil, nil
		}
		flInfo, err1 := fl.Stat()
		pathInfo, err2 := os.Lstat(abs)
		if err1 != nil || err2 != nil || !os.SameFile(flInfo, fi) || !os.SameFile(fi, pathInfo) {
			_ = fl.Unlock()
			f.Close()
			if time.Since(start) > lockRetryFor {
				return nil, nil, &PathError{Op: "lock", Path: path, Err: errors.New("kept changing while it was read")}
			}
			continue
		}
		if !exclusive {
			// No run held it. Let go at once, so that a Start or an Unlock
			// racing this inspection finds the lock free; f still reads
			// the file that was judged, as runs replace it by rename.
			_ = fl.Unlock()
			fl = nil
		}
		st.readHolder(f)
		f.Close()
		if h := st.Holder; holderLogHeld(h) {
			// The file was replaced under a live run, which still holds its
			// log.
			if fl != nil {
				_ = fl.Unlock()
			}
			st.State = LockRunning
			st.Detail = "its log file is held by a live run whose lock file was replaced"
			return st, nil, nil
		}
		st.State = LockStale
		return st, fl, nil
	}
}

// openLockFile opens the lock file at abs (path as given) to inspect it.
// It returns no file and no error when there is none, and an error for
// anything but a regular file.
func openLockFile(abs, path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(abs, os.O_RDONLY|oNoFollow|oNonblock, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, pathError("lock", path, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errNotFile
	}
	if err != nil {
		f.Close()
		return nil, nil, pathError("lock", path, err)
	}
	return f, fi, nil
}

// readHolder reads what the lock file f says of its holder into st, or
// why it cannot be read.
func (st *LockStatus) readHolder(f *os.File) {
	content, err := readLock(f)
	if err != nil {
		st.Detail = err.Error()
		return
	}
	st.Holder, st.Detail = parseHolder(content)
}

// Unlock clears a stale lock: it removes the lock file at path after
// reading what it said, and appends one WARN record to the run's log (the
// log the file names) saying who cleared it and what the lock said. It
// removes only the file it inspected, holding the OS lock on it meanwhile,
// so it cannot remove the lock of a run that starts at that moment.
//
// It returns the status it found. A lock held by a live run is refused
// with a *LockError that unwraps to ErrLocked, and nothing changes; a free
// lock is not an error (the status says LockFree). A path that cannot be
// read as a lock file gives a *PathError.
func Unlock(path string) (*LockStatus, error) {
	st, fl, err := inspectLock(path, true)
	if err != nil || st.State == LockFree {
		return st, err
	}
	if st.State == LockRunning {
		return st, &LockError{Path: path, Holder: st.Holder, Err: ErrLocked, Detail: st.Detail}
	}
	defer fl.Unlock()
	abs, _ := filepath.Abs(path)
	fi, err := fl.Stat()
	if err != nil || !sameInode(fi, abs) {
		return st, &PathError{Op: "lock", Path: path, Err: errors.New("changed while it was being cleared; look again")}
	}
	// The file names the log that gets the record: for a job run as root,
	// only a lock file root owns, in a directory only root can change, is
	// trusted to name it.
	if err := errors.Join(ownerErr(fi), nlinkErr(fi), dirErr(filepath.Dir(abs))); err != nil {
		return st, &PathError{Op: "lock", Path: path, Err: err}
	}
	if err := os.Remove(abs); err != nil {
		return st, pathError("lock", path, err)
	}
	if err := syncDir(abs); err != nil {
		return st, pathError("lock", path, err)
	}
	if h := st.Holder; h != nil && h.Log != "" {
		who := "pid " + fmt.Sprint(os.Getpid())
		if u, err := user.Current(); err == nil {
			who = u.Username + " (" + who + ")"
		}
		if host, err := os.Hostname(); err == nil {
			who += " on " + host
		}
		rec := record{time: time.Now(), level: slog.LevelWarn, own: true, msg: "Lock cleared by " + who + ": " + staleText(h, st.Detail)}
		if err := appendToLog(h.Log, 0o644, rec.format(nil, nil, fields{attrs: []slog.Attr{slog.String("lock", path)}})); err != nil {
			return st, fmt.Errorf("pigging: lock %s cleared, but the record could not be added to its log: %w", path, err)
		}
	}
	return st, nil
}

func sameInode(fi fs.FileInfo, path string) bool {
	pi, err := os.Lstat(path)
	return err == nil && os.SameFile(fi, pi)
}
