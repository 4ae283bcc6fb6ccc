package proctest

import (
	"os"
	"strings"
	"time"
)

// ChildTouch creates an empty file at path, for a child to signal the
// parent; a child that cannot dies with ChildDie.
func ChildTouch(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		ChildDie("touch %s: %v", path, err)
	}
	f.Close()
}

// ChildAppend appends line to path with one O_APPEND write, so that the
// lines of many children never interleave; a child that cannot dies with
// ChildDie.
func ChildAppend(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		ChildDie("append %s: %v", path, err)
	}
	if _, err := f.WriteString(line); err != nil {
		ChildDie("append %s: %v", path, err)
	}
	f.Close()
}

// CountFiles counts the names in dir that start with prefix; 0 when dir
// cannot be read.
func CountFiles(dir, prefix string) int {
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			n++
		}
	}
	return n
}

// ChildWaitFile waits for path to exist, for a child waiting on a signal
// from the parent, and reports whether it did within d.
func ChildWaitFile(path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Lstat(path); err == nil {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}
