//go:build !unix

package pigging

import (
	"io/fs"
)

// Open flags: where open has no O_NOFOLLOW or O_NONBLOCK they are 0, and
// the Lstat check before each open still refuses symlinks and anything that
// is not a regular file.
const (
	oNoFollow = 0
	oNonblock = 0
)

func asRoot() bool { return false }

// ownerErr, dirErr and nlinkErr check nothing where there is no root user
// or no link count to read.
func ownerErr(fs.FileInfo) error { return nil }
func dirErr(string) error        { return nil }
func nlinkErr(fs.FileInfo) error { return nil }

func writeIgnoringSIGPIPE(w interface{ Write([]byte) (int, error) }, b []byte) error {
	_, err := w.Write(b)
	return err
}

// ownedByMe reports false where a file's owner cannot be read: pigging
// writes no record to a log a shared store names.
func ownedByMe(fs.FileInfo) bool { return false }
