//go:build unix

package pigging

import (
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// Open flags that keep a job from being tricked: O_NOFOLLOW makes open(2)
// fail on a symlink, closing the window between the Lstat check and the
// open; O_NONBLOCK makes opening a FIFO or a device return at once instead
// of waiting for a peer, so that the check that the file is a regular file
// comes before anything can block.
const (
	oNoFollow = syscall.O_NOFOLLOW
	oNonblock = syscall.O_NONBLOCK
)

// asRoot reports whether the process runs as root, the case in which files
// and directories that other users control are refused.
func asRoot() bool { return os.Geteuid() == 0 }

// ownerErr returns an error when fi, a file pigging is about to write, is
// owned by another user while the job runs as root: a file that another
// user made and can still change is not the job's to write (sshd and cron
// refuse such files too).
func ownerErr(fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !asRoot() || st.Uid == 0 {
		return nil
	}
	return fmt.Errorf("is owned by uid %d, not by root; a job run as root writes only files root owns (chown it to root or delete it)", st.Uid)
}

// dirErr returns an error when, for a job run as root, another user could
// redirect or replace the files in dir: a directory on the way (dir itself
// and each one above it, and each symlink followed) that is not owned by
// root, or that others may write without the sticky bit. It returns nil for
// a job that does not run as root.
func dirErr(dir string) error {
	if !asRoot() {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	// The path as given: each component, symlinks included (a symlink's own
	// owner is who can change where it points).
	if err := walkUp(abs, os.Lstat); err != nil {
		return err
	}
	// The path as resolved: the directories the files are really in.
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		return walkUp(real, os.Stat)
	}
	return nil
}

func walkUp(p string, stat func(string) (fs.FileInfo, error)) error {
	for {
		fi, err := stat(p)
		if err != nil {
			return nil // reported by the open that follows
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			what := "directory"
			if fi.Mode()&fs.ModeSymlink != 0 {
				what = "symlink"
			}
			if st.Uid != 0 {
				return fmt.Errorf("is reached through the %s %s owned by uid %d; a job run as root keeps its files where only root can redirect them", what, p, st.Uid)
			}
			if fi.IsDir() && fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
				return fmt.Errorf("is in the directory %s, which others may write (mode %v, no sticky bit); a job run as root keeps its files where only root can replace them", p, fi.Mode().Perm())
			}
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// nlinkErr returns an error for a file with more than one name: truncating
// or writing it would change the file under its other names too.
func nlinkErr(fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return fmt.Errorf("has %d hard links; pigging writes only a file with one name", st.Nlink)
	}
	return nil
}

// writeIgnoringSIGPIPE writes b to w. When w is the process's stdout or
// stderr, a closed reader would otherwise kill the process with SIGPIPE;
// while SIGPIPE is caught the write returns EPIPE instead.
func writeIgnoringSIGPIPE(w interface{ Write([]byte) (int, error) }, b []byte) error {
	// A program that ignores SIGPIPE already gets EPIPE; catching it here
	// would undo that when the catch ends.
	if f, ok := w.(*os.File); ok && (f.Fd() == 1 || f.Fd() == 2) && !signal.Ignored(syscall.SIGPIPE) {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGPIPE)
		defer signal.Stop(c)
	}
	_, err := w.Write(b)
	return err
}

// ownedByMe reports whether the process's effective user owns fi.
func ownedByMe(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
