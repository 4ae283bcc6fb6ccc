package pigging

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gofrs/flock"
)

const (
	// lockRetryFor bounds how long Start retries when the lock file is
	// replaced or removed under it.
	lockRetryFor = 2 * time.Second
	// lettingGoFor bounds how long Start waits for a holder whose file says
	// it has finished (failed or cancelled) to let go of the OS lock, before
	// it reports the holder as live. Such a holder is a Stop letting go or
	// a Start being refused, which let go in microseconds on an idle
	// machine, but 32 Starts racing for a failed run's lock on 2 loaded
	// cores held it past 250 ms; a holder that is live rewrites the file
	// as running, and is reported at once.
	lettingGoFor = time.Second
	// briefHoldFor bounds how long Start and ReadLock wait for a lock held
	// while the holder's log, on this host, is free: no run is past its
	// Start then, so the holder is an Unlock, a Start being refused, or a
	// run about to open its log, each of which lets go or opens it soon.
	briefHoldFor = lockRetryFor
	// maxLockFile is the most of a lock file Start reads. A larger file is
	// not pigging's (pigging cuts the error it stores to maxLockError) and
	// is stale with that reason.
	maxLockFile = 64 << 10
	// maxLockError is the most of a run's error text the lock file keeps;
	// the log has the whole of it.
	maxLockError = 4 << 10
	// lockRoom is the room for a failure each lock file is written with:
	// spaces after the JSON, which a JSON reader skips. On a full disk,
	// where no new file can be made, the run's failure is written over the
	// file itself within its size (writeInPlace), which needs no new
	// block, with its error cut to fit.
	lockRoom = 1 << 10
)

// lockFile is a held lock. The OS lock is held on the inode the lock path
// names; each write of the holder's details makes a new file beside it,
// locks that, and renames it over the path, so that the path always names
// a whole JSON document and always a locked one while the run lives.
type lockFile struct {
	path    string
	fl      *flock.Flock // the OS lock on the inode the path named last
	created bool         // this run created the file
	prev    []byte       // what the file held before this run wrote to it
	written bool         // this run has changed the file's content
	mode    fs.FileMode
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
// result with a nil lock. A path that does not exist yet is created with
// first as its content, whole, by a link(2) that fails if another run
// created it first.
func acquireLock(path string, mode fs.FileMode, first *LockInfo) (lockResult, error) {
	start := time.Now()
	for {
		res, retry, err := tryLock(path, mode, first, time.Since(start))
		if err != nil || !retry {
			return res, err
		}
		if time.Since(start) > lockRetryFor {
			// The file kept changing under us: some other run is busy
			// with it. Report it as held.
			return lockResult{detail: "the lock file kept changing while this run tried it"}, nil
		}
		time.Sleep(time.Millisecond)
	}
}

func tryLock(path string, mode fs.FileMode, first *LockInfo, waited time.Duration) (res lockResult, retry bool, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow|oNonblock, 0)
	if errors.Is(err, fs.ErrNotExist) {
		fl, err := createLocked(path, mode, first)
		if errors.Is(err, fs.ErrExist) {
			return res, true, nil // another run created it first: look again
		}
		if err != nil {
			return res, false, pathError("lock", path, err)
		}
		return lockResult{lock: &lockFile{path: path, fl: fl, created: true, mode: mode}}, false, nil
	}
	if err != nil {
		return res, false, pathError("lock", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, false, pathError("lock", path, err)
	}
	if !fi.Mode().IsRegular() {
		return res, false, &PathError{Op: "lock", Path: path, Err: errNotFile}
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY|oNoFollow|oNonblock))
	ok, err := fl.TryLock()
	if errors.Is(err, fs.ErrNotExist) {
		return res, true, nil // removed by a run that just stopped
	}
	if err != nil {
		return res, false, pathError("lock", path, err)
	}
	if !ok {
		if sharedFree(path) {
			// Only inspections (ReadLock, status) hold it, for a moment:
			// no run does.
			return lockResult{}, true, nil
		}
		content, _ := readLock(f)
		res.holder, res.detail = parseHolder(content)
		if h := res.holder; h != nil && h.Status != StateRunning && waited < lettingGoFor {
			// The holder says it has finished: most likely a Stop about to
			// let go. Look again for a moment before calling it live.
			return lockResult{}, true, nil
		}
		if h := res.holder; localLog(h) && briefHold(h, waited) {
			// The holder's log is free: no run is past its Start.
			return lockResult{}, true, nil
		}
		return res, false, nil
	}

	// Locked. Make sure the path still names the file we locked: a run
	// that stops removes or replaces the file while it holds the lock, and
	// a run that locked the old file must not go on.
	flInfo, err1 := fl.Stat()
	pathInfo, err2 := os.Lstat(path)
	if err1 != nil || err2 != nil || !os.SameFile(flInfo, fi) || !os.SameFile(fi, pathInfo) {
		_ = fl.Unlock()
		return res, true, nil
	}
	lk := &lockFile{path: path, fl: fl, mode: mode}
	if err := errors.Join(nlinkErr(fi), ownerErr(fi)); err != nil {
		_ = fl.Unlock()
		return res, false, &PathError{Op: "lock", Path: path, Err: err}
	}
	content, rerr := readLock(f)
	lk.prev = content
	res.lock = lk
	res.stale = true
	if rerr != nil {
		res.detail = rerr.Error()
		return res, false, nil
	}
	res.holder, res.detail = parseHolder(content)
	return res, false, nil
}

// readLock reads a lock file's content, up to maxLockFile bytes; it says
// so in its error when the file is larger.
func readLock(f *os.File) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, maxLockFile+1), maxLockFile+1))
	if err != nil {
		return nil, fmt.Errorf("it cannot be read: %w", err)
	}
	if len(b) > maxLockFile {
		return nil, fmt.Errorf("it is larger than %d KiB, so not a lock file pigging wrote", maxLockFile>>10)
	}
	return b, nil
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
	info.Status = legacyState(info.Status)
	return &info, ""
}

// legacyState reads the values lock files were written with before
// RunState: "failed" and "cancelled".
func legacyState(s RunState) RunState {
	switch s {
	case "failed":
		return StateFailure
	case "cancelled":
		return StateCancellation
	}
	return s
}

// lockJSON returns info as the lock file's content, its error cut to
// maxLockError bytes so that the file always stays readable, followed by
// lockRoom spaces and a newline.
func lockJSON(info *LockInfo) ([]byte, error) {
	i := *info
	i.Error = cutText(i.Error, maxLockError)
	data, err := json.Marshal(&i)
	if err != nil {
		return nil, err
	}
	return padJSON(data, len(data)+lockRoom+1), nil
}

// padJSON returns data followed by spaces and a newline, size bytes in
// all; data must be shorter than size.
func padJSON(data []byte, size int) []byte {
	b := make([]byte, size)
	copy(b, data)
	for i := len(data); i < size-1; i++ {
		b[i] = ' '
	}
	b[size-1] = '\n'
	return b
}

// fitJSON returns info as a lock file's content of exactly size bytes,
// its error cut further when the whole of it does not fit. It fails when
// even the details without their error do not fit.
func fitJSON(info *LockInfo, size int) ([]byte, error) {
	i := *info
	n := maxLockError
	for {
		i.Error = cutText(info.Error, n)
		data, err := json.Marshal(&i)
		if err != nil {
			return nil, err
		}
		if len(data) < size {
			return padJSON(data, size), nil
		}
		if n == 0 || info.Error == "" {
			return nil, fmt.Errorf("no room for the run's details in the lock file's %d bytes", size)
		}
		// Cut as many more bytes as the text is over, at least.
		n = max(0, min(n, len(info.Error))-(len(data)+1-size))
	}
}

// cutText returns s cut to at most n bytes, on a rune boundary, saying
// where it was cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + " …[cut: " + strconv.Itoa(len(s)-cut) + " more bytes; the log has the whole text]"
}

// tempFile makes a new file beside path, with data in it, synced. The
// caller links or renames it into place, or removes it.
func tempFile(path string, mode fs.FileMode, data []byte) (string, error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, mode)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// lockTemp makes a temporary file with info in it and takes the OS lock on
// it, so that it is locked from the moment it gets the lock path's name.
func lockTemp(path string, mode fs.FileMode, info *LockInfo) (string, *flock.Flock, error) {
	data, err := lockJSON(info)
	if err != nil {
		return "", nil, err
	}
	tmp, err := tempFile(path, mode, data)
	if err != nil {
		return "", nil, err
	}
	fl := flock.New(tmp, flock.SetFlag(os.O_RDONLY|oNoFollow))
	if ok, err := fl.TryLock(); !ok || err != nil {
		_ = os.Remove(tmp)
		if err == nil {
			err = errors.New("could not lock a file only this run knows")
		}
		return "", nil, err
	}
	return tmp, fl, nil
}

// createLocked creates path with info in it, locked, or fails with an
// error wrapping fs.ErrExist when path exists. Nobody ever sees it empty.
func createLocked(path string, mode fs.FileMode, info *LockInfo) (*flock.Flock, error) {
	tmp, fl, err := lockTemp(path, mode, info)
	if err != nil {
		return nil, err
	}
	err = os.Link(tmp, path)
	_ = os.Remove(tmp)
	if err != nil {
		_ = fl.Unlock()
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// No hard links here (some network and FAT file systems): create
		// the file in place; it is empty until the write below.
		return createInPlace(path, mode, info)
	}
	return fl, syncDir(path)
}

func createInPlace(path string, mode fs.FileMode, info *LockInfo) (*flock.Flock, error) {
	data, err := lockJSON(info)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, mode)
	if err != nil {
		return nil, err
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY|oNoFollow))
	ok, err := fl.TryLock()
	if err == nil && !ok {
		err = errors.New("locked by another process as soon as it was made")
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		_ = os.Remove(path)
		_ = fl.Unlock()
		return nil, err
	}
	return fl, syncDir(path)
}

// syncDir syncs the directory of path, so that a file created, renamed or
// removed there stays so after a power loss.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, errors.ErrUnsupported) || errors.Is(err, fs.ErrInvalid) {
		err = nil // a directory that cannot be synced (Windows)
	}
	return errors.Join(err, d.Close())
}
