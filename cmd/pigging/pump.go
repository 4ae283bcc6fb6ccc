package main

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/pigging-go/pigging/pigging"
)

// maxLine is the longest piece of a line that becomes one record. A longer
// line is split into records of at most maxLine bytes (cut before a UTF-8
// character, never inside one), each but the last carrying partial=true.
// The pump's buffer holds one byte more, so that a line of exactly maxLine
// bytes is still one record: memory stays flat however long the lines and
// however much the command prints.
const maxLine = 64 << 10

// A pump turns one output stream of the command into log records, one per
// line, and passes the bytes through unchanged to pass.
//
// It reads with one fixed buffer (maxLine+1 bytes) and never drops anything: a
// command that writes faster than the log fills the pipe and waits, as it
// would on a slow terminal. The bytes of each read reach pass with one
// Write, so passing through costs one write per read, not per line.
//
// A pump is used by one goroutine.
type pump struct {
	// stream is "stdout" or "stderr".
	stream string
	// log writes one record: Tracker.Info or Tracker.Warn.
	log func(msg string, args ...any)
	// whole and partial are the record's key/values for a whole line and
	// for a piece of a split one, made once.
	whole, partial []any
	// pass receives the bytes as they are read; nil after it failed.
	pass io.Writer
	// passErr is the first error of pass, which is then no longer used:
	// the log keeps every line even when the terminal has gone.
	passErr error
	// readErr is the error, other than io.EOF, that ended ReadFrom: for
	// one, os.ErrClosed when os/exec closed the pipe that processes left
	// behind by the command still held (exec.Cmd.WaitDelay).
	readErr error

	buf        []byte
	start, end int // buf[start:end] is the unfinished line
	// copied counts the lines logged with a string of their own (logLines).
	copied int
}

// newPump returns a pump logging with log, tagging each record with
// stream=<stream>, and passing the bytes through to pass (nil for none).
func newPump(stream string, log func(string, ...any), pass io.Writer) *pump {
	return &pump{
		stream:  stream,
		log:     log,
		whole:   []any{"stream", stream},
		partial: []any{"stream", stream, "partial", true},
		pass:    pass,
		buf:     make([]byte, maxLine+1),
	}
}

// ReadFrom reads r until EOF or an error, logging each line; the
// unfinished line at the end is logged too. It returns the bytes read and
// the read error other than io.EOF. os/exec calls it (through io.Copy) when
// the pump is a command's Stdout or Stderr.
func (p *pump) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	for {
		if p.end == len(p.buf) {
			p.makeRoom()
		}
		m, err := r.Read(p.buf[p.end:])
		if m > 0 {
			n += int64(m)
			p.took(m)
		}
		if err != nil {
			p.Flush()
			if err == io.EOF {
				err = nil
			}
			p.readErr = err
			return n, err
		}
	}
}

// Write logs each line completed by b and keeps the unfinished one for the
// next Write or Flush. It never fails.
func (p *pump) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if p.end == len(p.buf) {
			p.makeRoom()
		}
		m := copy(p.buf[p.end:], b)
		b = b[m:]
		p.took(m)
	}
	return n, nil
}

// Flush logs the unfinished line, if any, as a whole one: the command
// ended without a final newline.
func (p *pump) Flush() {
	if p.start < p.end {
		p.log(string(p.buf[p.start:p.end]), p.whole...)
	}
	p.start, p.end = 0, 0
}

// took passes through and logs the m bytes just placed at buf[end:].
func (p *pump) took(m int) {
	fresh := p.buf[p.end : p.end+m]
	if p.pass != nil {
		if _, err := p.pass.Write(fresh); err != nil {
			p.pass, p.passErr = nil, err
		}
	}
	// Only the new bytes can hold a newline: the unfinished line had none.
	last := bytes.LastIndexByte(fresh, '\n')
	p.end += m
	if last < 0 {
		return
	}
	done := p.end - m + last + 1
	p.logLines(p.buf[p.start:done])
	p.start = done
	if p.start == p.end {
		p.start, p.end = 0, 0
	}
}

// logLines logs each line of b, which ends with a newline.
//
// The lines of one read share one string, made with one allocation, rather
// than one string each: BenchmarkPump/pump went from 833 to 721 ns per short
// line, the cost of Tracker.Info alone (719 ns) in the same runs. A record that becomes a span event
// keeps its message, and a shared string would keep the whole read with it;
// so the first lines, which may become events, get a copy of their own.
func (p *pump) logLines(b []byte) {
	for len(b) > 0 && p.copied < pigging.DefaultEventBudget {
		i := bytes.IndexByte(b, '\n')
		p.log(string(b[:i]), p.whole...)
		b = b[i+1:]
		p.copied++
	}
	if len(b) == 0 {
		return
	}
	s := string(b)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		p.log(s[:i], p.whole...)
		s = s[i+1:]
	}
}

// makeRoom frees the end of the full buffer: it moves the unfinished line
// to the front, or, when that line fills the whole buffer (longer than
// maxLine), logs its first maxLine bytes or fewer as a partial record.
func (p *pump) makeRoom() {
	if p.start == 0 {
		cut := splitPoint(p.buf[:maxLine])
		p.log(string(p.buf[:cut]), p.partial...)
		p.start = cut
	}
	p.end = copy(p.buf, p.buf[p.start:p.end])
	p.start = 0
}

// splitPoint returns where to cut b, a piece of a line too long for one
// record: before a UTF-8 character that b ends in the middle of, so that
// both pieces stay valid text; else at its end.
func splitPoint(b []byte) int {
	for i := len(b) - 1; i >= 0 && i > len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if i > 0 && !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}
