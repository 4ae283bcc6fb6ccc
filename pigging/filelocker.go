package pigging

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// NewFileLocker returns the lock file at path as a Locker, creating files
// with mode. It is what a Tracker uses unless WithLocker says otherwise.
func NewFileLocker(path string, mode fs.FileMode) Locker {
	return &fileLocker{path: path, mode: mode}
}

// fileLocker is the lock file.
type fileLocker struct {
	path string
	mode fs.FileMode
}

var _ Locker = (*fileLocker)(nil)

func (l *fileLocker) String() string { return l.path }

func (l *fileLocker) Acquire(_ context.Context, info *LockInfo) (Acquired, error) {
	abs, err := filepath.Abs(l.path)
	if err != nil {
		return Acquired{}, &PathError{Op: "lock", Path: l.path, Err: err}
	}
	if err := checkPath("lock", l.path, abs); err != nil {
		return Acquired{}, err
	}
	res, err := acquireLock(abs, l.mode, info)
	if err != nil {
		return Acquired{}, relabel(err, l.path)
	}
	a := Acquired{Holder: res.holder, Stale: res.stale, Detail: res.detail}
	if res.lock != nil {
		a.Lease = res.lock
	}
	return a, nil
}

func (l *fileLocker) Inspect(context.Context) (*LockStatus, error) { return ReadLock(l.path) }

func (l *fileLocker) Clear(context.Context) (*LockStatus, error) { return Unlock(l.path) }

// The lock file as a Lease.
var _ Lease = (*lockFile)(nil)

func (l *lockFile) Update(_ context.Context, info *LockInfo) error { return l.write(info) }

func (l *lockFile) Release(context.Context) error { return l.release() }

// Keep writes info into the file and unlocks. When the file was removed or
// replaced under the run, it puts info back where that is safe (see
// restore).
func (l *lockFile) Keep(_ context.Context, info *LockInfo) error {
	if !l.stillOurs() {
		return errors.Join(l.restore(info), l.fl.Unlock())
	}
	return l.keep(info)
}

func (l *lockFile) Abort(context.Context) error { return l.abort() }

func (l *lockFile) Lost() <-chan struct{} { return nil }

func (l *lockFile) Check(context.Context) error {
	if !l.stillOurs() {
		return fmt.Errorf("%w: the lock file %s was removed or replaced", ErrLockLost, l.path)
	}
	return nil
}

// write replaces the lock file with one holding info, atomically: a new
// locked file renamed over the path. The path is then the old content or
// the new, never a mix, and stays locked throughout. It fails with
// an error wrapping ErrLockLost when the path no longer names the file
// this run holds.
//
// When no new file can be made (a full disk), it writes info over the
// held file itself instead (writeInPlace); it fails only when that fails
// too, with both errors.
func (l *lockFile) write(info *LockInfo) error {
	if err := l.Check(context.Background()); err != nil {
		return err
	}
	tmp, fl, err := lockTemp(l.path, l.mode, info)
	if err == nil {
		if err = os.Rename(tmp, l.path); err != nil {
			_ = os.Remove(tmp)
			_ = fl.Unlock()
		}
	}
	if err != nil {
		if ierr := l.writeInPlace(info); ierr != nil {
			return errors.Join(err, fmt.Errorf("writing over the lock file itself: %w", ierr))
		}
		l.written = true
		return nil
	}
	l.written = true
	old := l.fl
	l.fl = fl
	return errors.Join(syncDir(l.path), old.Unlock())
}

// writeInPlace writes info over the file this run holds, within the size
// the file has: overwriting blocks a file already has needs no free
// space, and every lock file is written with lockRoom to spare, so a
// run's failure is kept on a full disk. The write is not atomic, but the
// run holds the OS lock throughout, so whoever takes the lock after it
// reads the whole of it.
func (l *lockFile) writeInPlace(info *LockInfo) error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|oNoFollow|oNonblock, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	held, err := l.fl.Stat()
	if err != nil || !os.SameFile(fi, held) || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: the lock file %s was removed or replaced", ErrLockLost, l.path)
	}
	data, err := fitJSON(info, int(min(fi.Size(), maxLockFile)))
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

// release removes the file (when the path still names it), then unlocks.
func (l *lockFile) release() error {
	var errs []error
	if l.stillOurs() {
		if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		} else {
			errs = append(errs, syncDir(l.path))
		}
	}
	return errors.Join(append(errs, l.fl.Unlock())...)
}

// keep writes info into the file and unlocks, leaving the file for the next
// run to find.
func (l *lockFile) keep(info *LockInfo) error {
	err := l.write(info)
	return errors.Join(err, l.fl.Unlock())
}

// restore puts info back at the path after the file this run held was
// removed or replaced by someone else: it creates the path when it is gone,
// or replaces a file that names this very run (a copy an editor saved); it
// leaves alone a file that names another run.
func (l *lockFile) restore(info *LockInfo) error {
	f, err := os.OpenFile(l.path, os.O_RDONLY|oNoFollow|oNonblock, 0)
	if errors.Is(err, fs.ErrNotExist) {
		fl, err := createLocked(l.path, l.mode, info)
		if err != nil {
			return err
		}
		return fl.Unlock()
	}
	if err != nil {
		return err
	}
	content, err := readLock(f)
	_ = f.Close()
	if err != nil {
		return err
	}
	h, _ := parseHolder(content)
	if h == nil || h.PID != info.PID || !h.Started.Equal(info.Started) {
		return nil
	}
	tmp, fl, err := lockTemp(l.path, l.mode, info)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, l.path); err != nil {
		_ = os.Remove(tmp)
		return errors.Join(err, fl.Unlock())
	}
	return errors.Join(syncDir(l.path), fl.Unlock())
}

// abort undoes this run's claim after a Start that could not finish: it
// removes a file this run created, or puts back what the file held when
// this run has written to it (a file left as it was is not rewritten).
func (l *lockFile) abort() error {
	if l.created {
		return l.release()
	}
	var errs []error
	if l.written && l.stillOurs() {
		tmp, err := tempFile(l.path, l.mode, l.prev)
		if err == nil {
			err = os.Rename(tmp, l.path)
		}
		errs = append(errs, err)
	}
	return errors.Join(append(errs, l.fl.Unlock())...)
}

// stillOurs reports whether the path still names the file this run holds.
func (l *lockFile) stillOurs() bool {
	fi, err := l.fl.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Lstat(l.path)
	return err == nil && os.SameFile(fi, pi)
}

// holderLogHeld reports whether a live run holds the log that h names, on
// this host: a run holds its log from Start to Stop, so the run a lock file
// names is seen alive even when the file was replaced under it. A log named
// by a run on another host cannot be checked from here and reports false.
func holderLogHeld(h *LockInfo) bool {
	return localLog(h) && logHeld(h.Log)
}

// briefHold reports whether a lock held by another process, whose file
// names h, is worth looking at again after waited: h's log is on this host
// and no run holds it (see briefHoldFor), and briefHoldFor has not passed.
// A holder whose log cannot be checked (none named, another host) is
// given lettingGoFor.
func briefHold(h *LockInfo, waited time.Duration) bool {
	if !localLog(h) {
		return waited < lettingGoFor
	}
	return waited < briefHoldFor && !logHeld(h.Log)
}

// localLog reports whether h names a log that can be checked from here: a
// log on this host (or on no host named).
func localLog(h *LockInfo) bool {
	if h == nil || h.Log == "" {
		return false
	}
	if h.Host == "" {
		return true
	}
	host, err := os.Hostname()
	return err != nil || host == h.Host
}

// sharedFree reports whether a shared OS lock on path can be had now: no
// run holds the file (runs hold it exclusively), at most inspections do.
func sharedFree(path string) bool {
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY|oNoFollow|oNonblock))
	ok, err := fl.TryRLock()
	if err != nil || !ok {
		return false
	}
	_ = fl.Unlock()
	return true
}

// logHeld reports whether a live run holds the OS lock on the log file at
// path: a run holds it from its Start to its Stop, so a run whose lock file
// was removed or replaced by hand is still seen.
//
// It tries a shared lock, which a run's exclusive one excludes but the
// same test by another inspection or Start does not.
func logHeld(path string) bool {
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY|oNoFollow|oNonblock))
	ok, err := fl.TryRLock()
	if err != nil {
		return false
	}
	if ok {
		_ = fl.Unlock()
		return false
	}
	return true
}
