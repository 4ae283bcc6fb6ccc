package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestQuietBuffer checks that the buffer keeps both streams in the order
// written, drops the oldest bytes past its limit and says how many.
func TestQuietBuffer(t *testing.T) {
	q := newQuietBuffer(1 << 20)
	out, errw := q.writer(false), q.writer(true)
	for _, w := range []struct {
		w io.Writer
		s string
	}{{out, "a1\n"}, {errw, "b1\n"}, {out, "a2\n"}, {out, "a3\n"}, {errw, "b2"}} {
		if _, err := w.w.Write([]byte(w.s)); err != nil {
			t.Fatal(err)
		}
	}
	var all, stdout, stderr bytes.Buffer
	q.replay(io.MultiWriter(&stdout, &all), io.MultiWriter(&stderr, &all), "j.log")
	if all.String() != "a1\nb1\na2\na3\nb2" || stdout.String() != "a1\na2\na3\n" || stderr.String() != "b1\nb2" {
		t.Errorf("replayed %q (stdout %q, stderr %q)", all.String(), stdout.String(), stderr.String())
	}

	// Past the limit, the last bytes are kept, whatever the chunks.
	const limit = 4096
	q = newQuietBuffer(limit)
	var written bytes.Buffer
	for i := range 2000 {
		line := []byte(strings.Repeat("x", i%7) + "\n")
		written.Write(line)
		if _, err := q.writer(false).Write(line); err != nil {
			t.Fatal(err)
		}
	}
	stdout.Reset()
	stderr.Reset()
	q.replay(&stdout, &stderr, "j.log")
	if !bytes.HasSuffix(written.Bytes(), stdout.Bytes()) || stdout.Len() > limit || stdout.Len() < limit-chunkCost {
		t.Errorf("kept %d bytes, want the last %d or so", stdout.Len(), limit)
	}
	if dropped := written.Len() - stdout.Len(); !strings.Contains(stderr.String(), "pigging: the first "+byteSize(int64(dropped))+" of the run's output are left out") ||
		!strings.Contains(stderr.String(), "j.log has every line") {
		t.Errorf("stderr %q does not say %d bytes were left out", stderr.String(), dropped)
	}

	// Many chunks of one byte each cost their overhead: memory stays bounded.
	q = newQuietBuffer(limit)
	for i := range 100_000 {
		q.add(i%2 == 0, []byte{'x'})
	}
	if len(q.chunks) > limit/chunkCost {
		t.Errorf("%d chunks held with a limit of %d bytes", len(q.chunks), limit)
	}
}
