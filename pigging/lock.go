package pigging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/gofrs/flock"
)

const (
	// lockRetryFor bounds how long Start retries when the lock file is
	// replaced or still being created under it.
	lockRetryFor = 2 * time.Second
	// freshEmpty is how young an empty lock file must be to count as one
	// another run has just created and is about to lock, not as stale.
	freshEmpty = 2 * time.Second
)

// lockFile is a held lock: the OS lock on the file and a second descriptor
// of the same file for its JSON content.
type lockFile struct {
	path    string
	fl      *flock.Flock
	f       *os.File
	created bool   // this run created the file
	prev    []byte // what the file held before this run wrote to it
	written bool   // this run has changed the file's content
}

// lockResult is what trying the lock found.
type lockResult struct {
	lock   *lockFile // nil when another process holds it
	holder *LockInfo // what the file said, nil when empty or unreadable
	stale  bool      // acquired, but a previous run left the file
	detail string    // why holder is nil, when it matters
}

// acquireLock tries the lock at path without waiting. It returns an error
// only for a file system problem; a lock held by another process is a
// result with a nil lock.
func acquireLock(path string, mode fs.FileMode) (lockResult, error) {
	deadline := time.Now().Add(lockRetryFor)
	for {
		res, retry, err := tryLock(path, mode)
		if err != nil || !retry {
			return res, err
		}
		if time.Now().After(deadline) {
			// The file kept changing under us: some other run is busy
			// with it. Report it as held.
			return lockResult{detail: "the lock file kept changing while this run tried it"}, nil
		}
		time.Sleep(time.Millisecond)
	}
}

func tryLock(path string, mode fs.FileMode) (res lockResult, retry bool, err error) {
	created := false
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|oNoFollow, mode)
	if err == nil {
		created = true
	} else if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(path, os.O_RDWR|oNoFollow, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return res, true, nil // removed by a run that just stopped
		}
	}
	if err != nil {
		return res, false, pathError("lock", path, err)
	}
	closeAll := func() { _ = f.Close() }
	fl := flock.New(path, flock.SetFlag(os.O_RDWR|oNoFollow), flock.SetPermissions(mode))
	var ok bool
	if created {
		// Nobody can hold a file created a moment ago but a run that opened
		// it, found it empty and is letting go: wait for that briefly.
		ctx, cancel := context.WithTimeout(context.Background(), lockRetryFor)
		ok, err = fl.TryLockContext(ctx, time.Millisecond)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	} else {
		ok, err = fl.TryLock()
	}
	if err != nil {
		closeAll()
		if errors.Is(err, fs.ErrNotExist) {
			return res, true, nil
		}
		return res, false, pathError("lock", path, err)
	}
	if !ok {
		content, _ := readAllAt(f)
		closeAll()
		if created {
			// Locked by someone else although we created it: it was
			// removed and recreated under us. Look again.
			return res, true, nil
		}
		res.holder, res.detail = parseHolder(content)
		if res.holder != nil && res.holder.Status != StatusRunning {
			// A run holds its lock with status running. This file names a
			// run that failed or was cancelled, so the process holding it
			// is another Start looking at the stale lock or taking it
			// over, or a Stop about to let go: look again rather than
			// report the finished run as the one in progress.
			return lockResult{}, true, nil
		}
		return res, false, nil
	}

	// Locked. Make sure the path still names the file we locked: a run
	// that stops removes the file while it holds the lock, and a run that
	// locked the removed file must not go on.
	release := func() { _ = fl.Unlock(); closeAll() }
	flInfo, err1 := fl.Stat()
	fInfo, err2 := f.Stat()
	pathInfo, err3 := os.Lstat(path)
	if err1 != nil || err2 != nil || err3 != nil || !os.SameFile(flInfo, fInfo) || !os.SameFile(fInfo, pathInfo) {
		release()
		return res, true, nil
	}
	content, err := readAllAt(f)
	if err != nil {
		release()
		return res, false, pathError("lock", path, err)
	}
	if len(content) == 0 && !created && time.Since(fInfo.ModTime()) < freshEmpty {
		// Another run created this file a moment ago and is about to lock
		// it and write its details: let it.
		release()
		return res, true, nil
	}
	lk := &lockFile{path: path, fl: fl, f: f, created: created, prev: content}
	res.lock = lk
	if created {
		return res, false, nil
	}
	res.stale = true
	res.holder, res.detail = parseHolder(content)
	return res, false, nil
}

// parseHolder reads a lock file's JSON. It returns a nil holder and the
// reason for a file that is empty or not pigging's JSON (for instance one
// left by the Python original).
func parseHolder(content []byte) (*LockInfo, string) {
	if len(content) == 0 {
		return nil, "it is empty"
	}
	var info LockInfo
	if err := json.Unmarshal(content, &info); err != nil {
		return nil, "it is not pigging's JSON: " + err.Error()
	}
	if info.PID == 0 && info.Status == "" {
		return nil, "it names no process"
	}
	return &info, ""
}

func readAllAt(f *os.File) ([]byte, error) {
	var buf []byte
	chunk := make([]byte, 512)
	var off int64
	for {
		n, err := f.ReadAt(chunk, off)
		buf = append(buf, chunk[:n]...)
		off += int64(n)
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if off > 1<<20 {
			return buf, fmt.Errorf("lock file larger than 1 MiB")
		}
	}
}

// write replaces the file's content with info as JSON.
func (l *lockFile) write(info *LockInfo, sync bool) error {
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	return l.replace(data, sync)
}

func (l *lockFile) replace(data []byte, sync bool) error {
	l.written = true
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	if _, err := l.f.WriteAt(data, 0); err != nil {
		return err
	}
	if sync {
		return l.f.Sync()
	}
	return nil
}

// release removes the file (when the path still names it), then unlocks.
func (l *lockFile) release() error {
	var errs []error
	if l.stillOurs() {
		if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, l.fl.Unlock(), l.f.Close())
	return errors.Join(errs...)
}

// keep writes info into the file, syncs it, and unlocks, leaving the file
// for the next run to find.
func (l *lockFile) keep(info *LockInfo) error {
	var errs []error
	if l.stillOurs() {
		errs = append(errs, l.write(info, true))
	}
	errs = append(errs, l.fl.Unlock(), l.f.Close())
	return errors.Join(errs...)
}

// abort undoes this run's claim after a Start that could not finish: it
// removes a file this run created, or puts back what the file held when
// this run has written to it (a file left as it was is not rewritten, so
// its modification time still tells how old it is).
func (l *lockFile) abort() error {
	if l.created {
		return l.release()
	}
	var errs []error
	if l.written && l.stillOurs() {
		errs = append(errs, l.replace(l.prev, true))
	}
	errs = append(errs, l.fl.Unlock(), l.f.Close())
	return errors.Join(errs...)
}

func (l *lockFile) stillOurs() bool {
	fi, err := l.f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Lstat(l.path)
	return err == nil && os.SameFile(fi, pi)
}
