package ping

import (
	"bytes"
	"io"
	"os"
)

// Tail returns the last lines of the file at path, at most limit bytes,
// starting at a line boundary when the cut falls inside a line (a single
// line longer than limit is cut to its last limit bytes). It returns what
// it could read and the error that stopped it; a missing file is an error.
func Tail(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	// One byte before the cut tells whether it falls on a line boundary.
	off := st.Size() - int64(limit) - 1
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return b, err
	}
	if off == 0 && int64(len(b)) <= int64(limit) {
		return b, nil
	}
	// Start at the first whole line, unless the cut leaves none.
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i+1 < len(b) {
		return b[i+1:], nil
	}
	return b[len(b)-limit:], nil
}
