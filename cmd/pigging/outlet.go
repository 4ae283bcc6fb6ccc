package main

import (
	"errors"
	"io"
	"sync"
	"time"
)

// outputGrace is how long a write to pigging's stdout or stderr may block
// once the command has exited, and for pigging's own messages: a reader
// that stopped reading (a hung log shipper, a paused terminal) then loses
// the pass-through, never the run's end.
const outputGrace = 2 * time.Second

// errStalled is the error of a write given up because its reader stopped
// reading.
var errStalled = errors.New("the reader stopped reading: the write did not finish in time")

// An outlet is one of pigging's own output streams, written so that a
// reader that stops reading cannot block pigging for good. Each write runs
// on a goroutine of its own while the caller waits: as long as it takes
// while the limit is 0 (the command runs, and a slow reader slows it down
// as a slow terminal would), at most the limit otherwise. A write that
// does not finish in time is given up: it and every later write fail with
// errStalled, and the stuck write is left to its goroutine.
//
// Writes are made one at a time, in order; callers serialize them.
type outlet struct {
	w io.Writer

	mu      sync.Mutex
	limit   time.Duration // 0: no limit
	since   time.Time     // when the limit was set
	changed chan struct{} // closed when the limit changes, or at cutOff
	cuts    int           // cutOff calls so far
	stalled error         // errStalled once a write was given up
	buf     []byte        // the bytes of the write in progress
}

// newOutlet returns an outlet writing to w, with outputGrace as its limit.
func newOutlet(w io.Writer) *outlet {
	return &outlet{w: w, limit: outputGrace, since: time.Now(), changed: make(chan struct{})}
}

// setLimit sets how long a write may block from now on; 0 for no limit.
func (o *outlet) setLimit(d time.Duration) {
	o.mu.Lock()
	o.limit, o.since = d, time.Now()
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

// cutOff gives up the write in progress, if any, at once.
func (o *outlet) cutOff() {
	o.mu.Lock()
	o.cuts++
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

type writeResult struct {
	n   int
	err error
}

// Write writes p, waiting as the limit says.
func (o *outlet) Write(p []byte) (int, error) {
	o.mu.Lock()
	if o.stalled != nil {
		o.mu.Unlock()
		return 0, o.stalled
	}
	// The goroutine writes a copy: a write given up still reads it.
	o.buf = append(o.buf[:0], p...)
	buf, cuts, start := o.buf, o.cuts, time.Now()
	o.mu.Unlock()
	done := make(chan writeResult, 1)
	go func() {
		n, err := o.w.Write(buf)
		done <- writeResult{n, err}
	}()
	for {
		o.mu.Lock()
		limit, changed, cut := o.limit, o.changed, o.cuts != cuts
		from := start
		if o.since.After(from) {
			from = o.since
		}
		o.mu.Unlock()
		if cut {
			return o.giveUp()
		}
		var tm *time.Timer
		var expired <-chan time.Time
		if limit > 0 {
			tm = time.NewTimer(time.Until(from.Add(limit)))
			expired = tm.C
		}
		select {
		case r := <-done:
			stopTimer(tm)
			return r.n, r.err
		case <-changed:
			stopTimer(tm)
		case <-expired:
			return o.giveUp()
		}
	}
}

func stopTimer(tm *time.Timer) {
	if tm != nil {
		tm.Stop()
	}
}

func (o *outlet) giveUp() (int, error) {
	o.mu.Lock()
	o.stalled = errStalled
	o.buf = nil // the stuck write keeps the old one
	o.mu.Unlock()
	return 0, errStalled
}

// syncWriter is pigging's stderr, shared by its own messages and the
// command's passed-through stderr, which several goroutines write: it
// serializes the writes, and starts pigging's own message on a line of
// its own when the command's output left one unfinished.
type syncWriter struct {
	mu   sync.Mutex
	w    io.Writer
	open bool // the passed-through output ended without a newline
}

// Write writes one of pigging's own messages.
func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open && len(p) > 0 {
		if _, err := s.w.Write([]byte{'\n'}); err != nil {
			return 0, err
		}
		s.open = false
	}
	return s.w.Write(p)
}

// passThrough returns the writer of the command's stderr.
func (s *syncWriter) passThrough() io.Writer { return passWriter{s} }

type passWriter struct{ s *syncWriter }

func (w passWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	n, err := w.s.w.Write(p)
	if n > 0 {
		w.s.open = p[n-1] != '\n'
	}
	return n, err
}

// outlets makes pigging's stdout and stderr outlets, if they are not yet,
// and returns them with the writer of the command's stderr.
func (c *cli) outlets() (stdout, stderr *outlet, passErr io.Writer) {
	stdout, ok := c.stdout.(*outlet)
	if !ok {
		stdout = newOutlet(c.stdout)
		c.stdout = stdout
	}
	sw, ok := c.stderr.(*syncWriter)
	if !ok {
		sw = &syncWriter{w: c.stderr}
		c.stderr = sw
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if stderr, ok = sw.w.(*outlet); !ok {
		stderr = newOutlet(sw.w)
		sw.w = stderr
	}
	return stdout, stderr, sw.passThrough()
}
