package main

import (
	"fmt"
	"io"
	"sync"
)

// quietLimit is how much of a --quiet run's output pigging keeps to show
// if the run fails: the last 8 MiB, CMD's and pigging's own, in the order
// written. The log has every line whatever the limit.
const quietLimit = 8 << 20

// chunkCost is what a chunk costs beside its bytes, counted against the
// limit so that a command switching streams on every byte cannot grow the
// chunk list without bound.
const chunkCost = 32

// A quietBuffer holds the output of a --quiet run, both streams in the
// order written, keeping the last limit bytes: shown if the run fails,
// dropped if it succeeds (chronic's rule, so cron mails only failures).
// It is safe for concurrent use.
type quietBuffer struct {
	mu      sync.Mutex
	limit   int
	size    int // bytes held, chunkCost per chunk included
	chunks  []quietChunk
	dropped int64 // bytes left out, from the front
}

// quietChunk is a run of bytes written to one stream.
type quietChunk struct {
	stderr bool
	b      []byte
}

func newQuietBuffer(limit int) *quietBuffer { return &quietBuffer{limit: limit} }

// writer returns the writer of one stream into q.
func (q *quietBuffer) writer(stderr bool) io.Writer { return quietWriter{q, stderr} }

type quietWriter struct {
	q      *quietBuffer
	stderr bool
}

func (w quietWriter) Write(p []byte) (int, error) {
	w.q.add(w.stderr, p)
	return len(p), nil
}

// add appends p to the stream's output, dropping the oldest bytes past
// the limit.
func (q *quietBuffer) add(stderr bool, p []byte) {
	if len(p) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if n := len(q.chunks); n > 0 && q.chunks[n-1].stderr == stderr {
		q.chunks[n-1].b = append(q.chunks[n-1].b, p...)
		q.size += len(p)
	} else {
		q.chunks = append(q.chunks, quietChunk{stderr: stderr, b: append([]byte(nil), p...)})
		q.size += len(p) + chunkCost
	}
	for q.size > q.limit && len(q.chunks) > 0 {
		first := &q.chunks[0]
		excess := q.size - q.limit
		if excess < len(first.b) {
			first.b = first.b[excess:]
			q.size -= excess
			q.dropped += int64(excess)
			break
		}
		q.size -= len(first.b) + chunkCost
		q.dropped += int64(len(first.b))
		q.chunks[0] = quietChunk{}
		q.chunks = q.chunks[1:]
	}
}

// replay writes what q holds to stdout and stderr, in the order it was
// written, after a line on stderr saying how much was left out, if any.
// A failed write ends the replay: the log has every line.
func (q *quietBuffer) replay(stdout, stderr io.Writer, log string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dropped > 0 {
		if _, err := fmt.Fprintf(stderr, "pigging: the first %s of the run's output are left out here (--quiet keeps the last %s); %s has every line\n",
			byteSize(q.dropped), byteSize(int64(q.limit)), log); err != nil {
			return
		}
	}
	for _, c := range q.chunks {
		w := stdout
		if c.stderr {
			w = stderr
		}
		// In pieces: a reader that keeps reading is not a stalled one, and
		// the outlet's bound applies to each write.
		for b := c.b; len(b) > 0; {
			n := min(len(b), replayPiece)
			if _, err := w.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
	}
}

// replayPiece is the most replay writes at once.
const replayPiece = 64 << 10

// byteSize formats n bytes for a person: 512 B, 3.2 KiB, 12.0 MiB.
func byteSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}
