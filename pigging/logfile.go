package pigging

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/gofrs/flock"
)

// openLog opens the log at path for a fresh run: created when missing,
// refused unless it is a regular file with one name (and, for a job run as
// root, owned by root), then truncated, and locked for the run's lifetime
// so that another run never truncates it. It never blocks on a FIFO.
func openLog(path string, mode fs.FileMode) (*os.File, *flock.Flock, error) {
	f, err := openRegular(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, mode)
	if err != nil {
		return nil, nil, err
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY|oNoFollow|oNonblock))
	ok, err := fl.TryLock()
	for start := time.Now(); err == nil && !ok && time.Since(start) < lettingGoFor && sharedFree(path); {
		// Only a check whether a run holds it (logHeld, from a Start or
		// an inspection) has it, for a moment.
		time.Sleep(time.Millisecond)
		ok, err = fl.TryLock()
	}
	if err == nil && !ok {
		err = errors.New("is held by another run")
	}
	if err == nil {
		var a, b fs.FileInfo
		if a, err = fl.Stat(); err == nil {
			if b, err = f.Stat(); err == nil && !os.SameFile(a, b) {
				err = errors.New("was replaced while this run opened it")
			}
		}
	}
	if err == nil {
		err = f.Truncate(0)
	}
	if err != nil {
		_ = fl.Unlock()
		_ = f.Close()
		return nil, nil, pathError("log", path, err)
	}
	return f, fl, nil
}

// openRegular opens path with flag (O_NOFOLLOW and O_NONBLOCK added) and
// refuses anything but a regular file with one name, owned by root when
// the job runs as root, before any call that could block or write.
func openRegular(path string, flag int, mode fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|oNoFollow|oNonblock, mode)
	if err != nil {
		return nil, pathError("log", path, err)
	}
	fi, err := f.Stat()
	if err == nil {
		switch {
		case !fi.Mode().IsRegular():
			err = errNotFile
		default:
			err = errors.Join(nlinkErr(fi), ownerErr(fi))
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, pathError("log", path, err)
	}
	return f, nil
}

// relabel makes a *PathError about an absolute path name the path as the
// user gave it.
func relabel(err error, given string) error {
	var pe *PathError
	if errors.As(err, &pe) {
		pe.Path = given
	}
	return err
}

// appendToLog appends line to the log at path, creating it if needed, and
// syncs it. It never truncates; when the log ends in a cut record, line
// starts on a line of its own.
func appendToLog(path string, mode fs.FileMode, line []byte) error {
	f, err := openRegular(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, mode)
	if err != nil {
		return err
	}
	if endsCut(f) {
		line = append([]byte{'\n'}, line...)
	}
	_, err = f.Write(line)
	return errors.Join(err, f.Sync(), f.Close())
}

// endsCut reports whether the file ends in a cut record (no final
// newline). Other processes may append to the file or truncate and
// rewrite it meanwhile: only a fragment that stays, unchanged, for a few
// milliseconds counts, so that a refusal racing another refusal or a
// fresh start never adds an empty line.
func endsCut(f *os.File) bool {
	// Another process's append may be half done when the last byte is
	// read (the kernel extends the file a page at a time): a fragment is
	// believed only when it is still there, the same size, a moment
	// later; a crashed run's fragment stays, a write in progress does not.
	size := int64(-1)
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(2 * time.Millisecond)
		}
		st, err := f.Stat()
		if err != nil || st.Size() == 0 {
			return false
		}
		var last [1]byte
		if n, _ := f.ReadAt(last[:], st.Size()-1); n != 1 || last[0] == '\n' {
			return false
		}
		if st.Size() == size {
			return true
		}
		size = st.Size()
	}
	return false
}

// writeLine writes the record b, whose first byte is a spare newline, with
// one write(2), and syncs the file after an ERROR record. The spare newline
// is written only after a write was cut short (a full disk), so that a
// record never continues a fragment. A record that cannot be written is
// counted, makes the run fail at Stop, and goes to stderr.
func (r *run) writeLine(b []byte, level slog.Level) error {
	afterTorn := r.torn.Load() && r.torn.CompareAndSwap(true, false)
	if !afterTorn {
		b = b[1:]
	}
	n, err := r.file.Write(b)
	if err == nil && level >= slog.LevelError {
		err = r.file.Sync()
	}
	if err != nil {
		if n < len(b) && (n > 0 || afterTorn) {
			r.torn.Store(true)
		}
		r.lost.Add(1)
		r.failMu.Lock()
		if r.writeErr == nil {
			r.writeErr = err
		}
		r.failMu.Unlock()
		writeStderrLine(r.t.logPath, bytesTrimNL(b), err)
	}
	return err
}

// bytesTrimNL returns b without a leading spare newline.
func bytesTrimNL(b []byte) []byte {
	if len(b) > 0 && b[0] == '\n' {
		return b[1:]
	}
	return b
}

// Reasons a record goes to stderr, besides the lifecycle errors.
var (
	errNoTracker = errors.New("no pigging.Tracker in this context")
	errAfterStop = errors.New("logged after Stop began")
)

// writeStderr writes a record that cannot reach a log file to stderr, in
// the log file's format, saying why.
func writeStderr(logPath string, rec *record, f fields, why error) {
	r := *rec
	if r.time.IsZero() {
		r.time = time.Now()
	}
	var buf [stackLine]byte
	writeStderrLine(logPath, r.format(buf[:0], nil, f), why)
}

func writeStderrLine(logPath string, line []byte, why error) {
	msg := make([]byte, 0, len(line)+96)
	msg = append(msg, "pigging: "...)
	if logPath != "" {
		msg = append(msg, "not written to "...)
		msg = append(msg, logPath...)
		msg = append(msg, " ("...)
		msg = append(msg, why.Error()...)
		msg = append(msg, "): "...)
	} else {
		msg = append(msg, why.Error()...)
		msg = append(msg, ": "...)
	}
	msg = append(msg, line...)
	os.Stderr.Write(msg)
}

// toStderr is writeStderrLine for the Tracker's log.
func (t *Tracker) toStderr(line []byte, why error) { writeStderrLine(t.logPath, line, why) }
