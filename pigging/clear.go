package pigging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"time"
)

// ClearLock clears the stale lock of l, after a person has read the
// failed run's log, and returns what the lock said. It refuses a lock a
// live run holds with a *LockError wrapping ErrLocked, and a free lock is
// not an error.
//
// For the lock file it is Unlock. For another Locker (pglock) it calls
// Clear and then, when the run that left the lock wrote its log on this
// host, in a regular file the current user owns, appends to that log the
// record Unlock writes, saying who cleared the lock. A log on another
// host, or one this user does not own, gets no record: a path read from a
// shared store is not trusted to name a file to write. The error of a
// record that could not be added says the lock was cleared.
func ClearLock(ctx context.Context, l Locker) (*LockStatus, error) {
	if fl, ok := l.(*fileLocker); ok {
		return Unlock(fl.path)
	}
	st, err := l.Clear(ctx)
	if err != nil || st == nil || st.State != LockStale || st.Holder == nil {
		return st, err
	}
	host, _ := os.Hostname()
	h := st.Holder
	if h.Log == "" || h.Host != host {
		return st, nil
	}
	if err := noteCleared(h.Log, clearedRecord(h, st.Detail, l.String())); err != nil {
		return st, fmt.Errorf("pigging: lock %s cleared, but the record could not be added to its log: %w", l, err)
	}
	return st, nil
}

// clearedRecord is the line that says who cleared the lock named lock,
// which h left.
func clearedRecord(h *LockInfo, detail, lock string) []byte {
	who := "pid " + strconv.Itoa(os.Getpid())
	if u, err := user.Current(); err == nil {
		who = u.Username + " (" + who + ")"
	}
	if host, err := os.Hostname(); err == nil {
		who += " on " + host
	}
	rec := record{time: time.Now(), level: slog.LevelWarn, own: true, msg: "Lock cleared by " + who + ": " + staleText(h, detail)}
	return rec.format(nil, nil, fields{attrs: []slog.Attr{slog.String("lock", lock)}})
}

// noteCleared appends line to the existing log at path when it is a
// regular file with one name that the current user owns; else it writes
// nothing and returns nil.
func noteCleared(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|oNoFollow|oNonblock, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || !ownedByMe(fi) || nlinkErr(fi) != nil {
		return err
	}
	if endsCut(f) {
		line = append([]byte{'\n'}, line...)
	}
	if _, err := f.Write(line); err != nil {
		return err
	}
	return f.Sync()
}
