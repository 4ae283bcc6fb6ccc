package pigging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// The lock file's run history: "<lock path>.history", one RunEntry as JSON
// on each line, oldest first, with one more field, "keep": the number of
// entries the history kept when the line was written. Each entry is one
// O_APPEND write of the whole line and an fsync, under an exclusive OS lock
// on the history file; trimming writes the entries it keeps to a new file
// that is renamed over the old one, so the path always names a whole file:
// the old one or the new one.
//
// Trimming is amortised: it rewrites the file only when it holds half as
// many lines again as keep, at 1.3 ms an append against 4 ms when every
// append past keep rewrites it (TestHistoryTrim, ext4). Readers honour the
// newest entry's keep, so the history they see is exactly the last keep
// entries all the same.
const (
	// maxHistoryTail is the most of a history file that is read: Runs reads
	// its last maxHistoryTail bytes, and trimming keeps entries from them
	// only. A file of entries pigging wrote is larger only when keep is
	// (at some 500 bytes an entry, about 8,000 runs); anything before the
	// tail is dropped by the next trim.
	maxHistoryTail = 4 << 20
	// maxHistoryEntry is the most one entry's line may take, so that the
	// default history's 100 entries always fit in the tail. Its error is cut
	// at MaxHistoryError, so only an entry with hundreds of stages can reach
	// it: it then keeps the stages that fit.
	maxHistoryEntry = 32 << 10
	// historyWaitFor bounds how long AppendRun waits for another process's
	// append or trim to let go of the history file, and retries when the
	// file is replaced under it. Each holds it for one append, or for one
	// trim of at most maxHistoryTail bytes.
	historyWaitFor = 10 * time.Second
)

// HistoryPath returns where the lock file at lockPath keeps its run
// history: lockPath followed by ".history".
func HistoryPath(lockPath string) string { return lockPath + ".history" }

// ReadHistory returns the last n entries of the run history kept beside the
// lock file at lockPath (HistoryPath), newest first; all that the history
// keeps when n <= 0 (the last keep entries, keep as the newest entry's
// AppendRun was given it). It is what a job's health check or the pigging
// command reads, and it reads what a Tracker using that lock file writes.
//
// A missing file is an empty history, not an error. Lines that cannot be
// read as an entry (one torn by a crash, garbage) are skipped, and only
// the file's last 4 MiB are read, so a huge file costs no more. It takes
// no lock and never waits for a run: an entry is added by one write of a
// whole line, and the history is trimmed by renaming a whole new file over
// it. It is safe for concurrent use, with runs appending meanwhile.
//
// It returns a *PathError (Op "history") for a path that is not a regular
// file (a symlink, a directory, a FIFO, a device) or cannot be read.
func ReadHistory(lockPath string, n int) ([]RunEntry, error) {
	return (&fileLocker{path: lockPath}).Runs(context.Background(), n)
}

var _ History = (*fileLocker)(nil)

// Runs returns the last n entries of the lock file's history, newest
// first, as ReadHistory does.
func (l *fileLocker) Runs(_ context.Context, n int) ([]RunEntry, error) {
	given := HistoryPath(l.path)
	abs, err := filepath.Abs(given)
	if err != nil {
		return nil, &PathError{Op: "history", Path: given, Err: err}
	}
	entries, err := readHistory(abs, n)
	return entries, relabel(err, given)
}

// AppendRun adds e to the history beside the lock file (HistoryPath),
// then trims it to the last keep entries (DefaultHistory when keep <= 0).
// e is not changed; the entry's Error is cut at MaxHistoryError bytes, on
// a character boundary, and an entry with so many stages that its line
// would pass 32 KiB keeps the first ones that fit.
//
// The entry is one write of a whole line, synced before AppendRun returns,
// made while holding an exclusive OS lock on the history file, so that
// appends from several processes never interleave; a file whose last line
// was torn by a crash gets the new entry on a line of its own. Readers see
// the last keep entries from then on; the file itself is trimmed only when
// it holds half as many lines again as keep, or more than 6 MiB. The trim
// is atomic: the entries kept are written to a new file, synced, and
// renamed over the history, and the directory is synced, so a crash at any
// point leaves the old file or the new one, whole. Lines that are not
// entries are dropped by the trim, and a huge file is trimmed from its
// last 4 MiB, never read whole.
//
// The history file is refused as the lock file is: a symlink, a
// directory, a FIFO or a device at its path, a file with more than one
// name, and, for a job run as root, a file another user owns or one in a
// directory another user could change. AppendRun then returns a
// *PathError (Op "history") naming the path and what is wrong, having
// written nothing. A job that does not run as root appends to a history
// it may write whoever owns it, and its trim replaces it with a file of
// its own.
//
// It waits at most 10 s for other processes' appends. ctx's cancellation
// does not stop it, so that a cancelled run is recorded too. An error
// from the trim, after the entry was added, is a *PathError that says so.
//
// It is safe for concurrent use, by several processes.
func (l *fileLocker) AppendRun(_ context.Context, e *RunEntry, keep int) error {
	if keep <= 0 {
		keep = DefaultHistory
	}
	given := HistoryPath(l.path)
	line, err := historyLine(e, keep)
	if err != nil {
		return &PathError{Op: "history", Path: given, Err: err}
	}
	abs, err := filepath.Abs(given)
	if err != nil {
		return &PathError{Op: "history", Path: given, Err: err}
	}
	return relabel(appendHistory(abs, l.mode, line, keep), given)
}

// historyRecord is a history file's line: the entry, and the number of
// entries the history kept when it was written.
type historyRecord struct {
	RunEntry
	Keep int `json:"keep,omitempty"`
}

// historyLine returns e as one line of JSON with keep, its error cut to
// MaxHistoryError bytes and its stages to what fits in maxHistoryEntry.
func historyLine(e *RunEntry, keep int) ([]byte, error) {
	c := historyRecord{RunEntry: *e, Keep: keep}
	c.Error = cutHistoryError(e.Error)
	for {
		data, err := json.Marshal(&c)
		if err != nil {
			return nil, err
		}
		if len(data) < maxHistoryEntry {
			return append(data, '\n'), nil
		}
		if len(c.Stages) == 0 {
			return nil, fmt.Errorf("an entry of %d bytes is larger than the %d KiB a history entry may take", len(data), maxHistoryEntry>>10)
		}
		c.Stages = c.Stages[:len(c.Stages)/2]
	}
}

// cutHistoryError returns s as valid UTF-8 cut to at most MaxHistoryError
// bytes, the note that says where it was cut included.
func cutHistoryError(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	n := MaxHistoryError
	for {
		c := cutText(s, n)
		if len(c) <= MaxHistoryError {
			return c
		}
		n -= len(c) - MaxHistoryError
	}
}

// appendHistory appends line to the history file at path (absolute),
// creating it with mode, and trims it to keep entries when it has grown.
func appendHistory(path string, mode fs.FileMode, line []byte, keep int) error {
	f, fl, err := lockHistory(path, mode)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	defer func() { _ = fl.Unlock() }()
	fi, err := f.Stat()
	if err != nil {
		return pathError("history", path, err)
	}
	size := fi.Size()
	if size > 0 {
		var last [1]byte
		if _, err := f.ReadAt(last[:], size-1); err != nil {
			return pathError("history", path, err)
		}
		if last[0] != '\n' {
			// A crash tore the last entry: start the new one on a line of
			// its own.
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(line); err != nil {
		// Leave no part of the entry for the next one to follow: no other
		// append can have come in meanwhile.
		return pathError("history", path, errors.Join(err, f.Truncate(size)))
	}
	if err := f.Sync(); err != nil {
		return pathError("history", path, err)
	}
	if size == 0 {
		// Likely created by this call: make its name durable too.
		if err := syncDir(path); err != nil {
			return pathError("history", path, err)
		}
	}
	size += int64(len(line))
	tail, err := readTail(f, size)
	if err != nil {
		return trimError(path, err)
	}
	if bytes.Count(tail, []byte{'\n'}) <= keep+keep/2 && size <= maxHistoryTail+maxHistoryTail/2 {
		return nil
	}
	if err := trimHistory(path, mode, tail, keep); err != nil {
		return trimError(path, err)
	}
	return nil
}

func trimError(path string, err error) error {
	return &PathError{Op: "history", Path: path, Err: fmt.Errorf("the entry was added, but the history could not be trimmed: %w", err)}
}

// lockHistory opens the history file at path for appending, creating it
// with mode, and returns it with an exclusive OS lock held on it. It
// refuses what checkPath and openRegular refuse, and retries, for at most
// historyWaitFor, when the path is replaced while it waits (another
// process trimmed it) or the lock is held.
func lockHistory(path string, mode fs.FileMode) (*os.File, *flock.Flock, error) {
	deadline := time.Now().Add(historyWaitFor)
	for {
		if err := checkPath("history", path, path); err != nil {
			return nil, nil, err
		}
		f, err := openRegular(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, mode)
		if err != nil {
			return nil, nil, asHistory(err)
		}
		fl := flock.New(path, flock.SetFlag(os.O_RDONLY|oNoFollow|oNonblock))
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		ok, err := fl.TryLockContext(ctx, time.Millisecond)
		cancel()
		if errors.Is(err, fs.ErrNotExist) && time.Now().Before(deadline) {
			_ = f.Close()
			continue // removed meanwhile: make it again
		}
		if err != nil || !ok {
			_ = f.Close()
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("is held by another process for more than %v", historyWaitFor)
			}
			return nil, nil, pathError("history", path, err)
		}
		// Locked. Make sure the path still names the file opened and
		// locked: a trim renames a new file over it while holding the old.
		fi, err1 := f.Stat()
		flInfo, err2 := fl.Stat()
		pathInfo, err3 := os.Lstat(path)
		if err1 == nil && err2 == nil && err3 == nil && os.SameFile(fi, flInfo) && os.SameFile(fi, pathInfo) {
			return f, fl, nil
		}
		_ = fl.Unlock()
		_ = f.Close()
		if time.Now().After(deadline) {
			return nil, nil, &PathError{Op: "history", Path: path, Err: errors.New("kept changing while an entry was added")}
		}
	}
}

// asHistory makes a *PathError from openRegular, which speaks of the log,
// speak of the history.
func asHistory(err error) error {
	var pe *PathError
	if errors.As(err, &pe) {
		pe.Op = "history"
	}
	return err
}

// trimHistory replaces the history file at path with the last keep
// entries of tail, atomically: a new file, synced, locked so that no
// append comes in before its name is durable, renamed over the path, and
// the directory synced. The caller holds the lock on the old file.
func trimHistory(path string, mode fs.FileMode, tail []byte, keep int) error {
	removeStaleTemps(path)
	lines := lastEntries(tail, keep)
	var buf bytes.Buffer
	for i := len(lines) - 1; i >= 0; i-- {
		buf.Write(lines[i])
		buf.WriteByte('\n')
	}
	tmp, err := tempFile(path, mode, buf.Bytes())
	if err != nil {
		return err
	}
	fl := flock.New(tmp, flock.SetFlag(os.O_RDONLY|oNoFollow))
	if ok, err := fl.TryLock(); !ok || err != nil {
		_ = os.Remove(tmp)
		if err == nil {
			err = errors.New("could not lock a file only this process knows")
		}
		return err
	}
	defer func() { _ = fl.Unlock() }()
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(path)
}

// removeStaleTemps removes the temporary files of trims of the history at
// path that died before their rename. Only the holder of the lock on the
// file the path names trims it, so while it does, any other is stale.
func removeStaleTemps(path string) {
	prefix := "." + filepath.Base(path) + ".tmp-"
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			_ = os.Remove(filepath.Join(filepath.Dir(path), e.Name()))
		}
	}
}

// readHistory reads the last n entries of the history file at path
// (absolute), newest first; all those in its tail when n <= 0.
func readHistory(path string, n int) ([]RunEntry, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil {
		err = regularErr(fi)
	}
	if err != nil {
		return nil, pathError("history", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow|oNonblock, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, pathError("history", path, err)
	}
	defer func() { _ = f.Close() }()
	if fi, err = f.Stat(); err == nil {
		err = regularErr(fi)
	}
	if err != nil {
		return nil, pathError("history", path, err)
	}
	tail, err := readTail(f, fi.Size())
	if err != nil {
		return nil, pathError("history", path, err)
	}
	var out []RunEntry
	eachEntry(tail, func(r *historyRecord, _ []byte) bool {
		if len(out) == 0 && r.Keep > 0 && (n <= 0 || r.Keep < n) {
			n = r.Keep // the history as its last append left it
		}
		out = append(out, r.RunEntry)
		return n <= 0 || len(out) < n
	})
	return out, nil
}

// regularErr says why fi is not a regular file, or returns nil.
func regularErr(fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return errSymlink
	case fi.IsDir():
		return errIsDir
	case !fi.Mode().IsRegular():
		return errNotFile
	}
	return nil
}

// readTail returns the whole lines in the last maxHistoryTail bytes of f,
// which is size bytes long: from the start of the first line that starts
// in them to the last newline. A line cut by the tail's start, and the
// bytes after the last newline (an entry being written, or torn), are left
// out.
func readTail(f *os.File, size int64) ([]byte, error) {
	off := max(0, size-maxHistoryTail-1)
	buf := make([]byte, size-off)
	n, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	buf = buf[:n]
	if off > 0 {
		// Drop the line cut by the tail's start; when the byte before the
		// tail is a newline, that is all that goes.
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil, nil
		}
		buf = buf[i+1:]
	}
	return buf[:bytes.LastIndexByte(buf, '\n')+1], nil
}

// eachEntry calls fn with each line of tail that reads as an entry, and
// the line, newest first, until fn returns false.
func eachEntry(tail []byte, fn func(r *historyRecord, line []byte) bool) {
	for end := len(tail); end > 0; {
		start := bytes.LastIndexByte(tail[:end-1], '\n') + 1
		line := tail[start : end-1]
		end = start
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r historyRecord
		if json.Unmarshal(line, &r) != nil || r.Result == "" {
			continue
		}
		if !fn(&r, line) {
			return
		}
	}
}

// lastEntries returns the last keep lines of tail that read as entries,
// newest first.
func lastEntries(tail []byte, keep int) [][]byte {
	var lines [][]byte
	eachEntry(tail, func(_ *historyRecord, line []byte) bool {
		lines = append(lines, line)
		return len(lines) < keep
	})
	return lines
}
