package connect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"

	"go.opentelemetry.io/otel/attribute"
)

// ctxEvery is how many lines a file source reads between looks at ctx.
const ctxEvery = 1024

// CSV returns the records of the CSV file at path as a sequence of T, each
// made by scan from one record's fields (the slice is reused: keep the
// strings, not the slice). The file is opened when the sequence is ranged
// over, read as it is handed over (memory stays constant) and closed when
// the range ends. With WithHeader, its first record is a header, skipped
// and, when columns are given, checked against them.
//
// Every record must have as many fields as the first. An error (a
// malformed line, scan's error, a header that differs, ctx's when it is
// done) is the last pair handed over; one about a line is a *LineError
// naming the file and the line ("orders.csv:42: wrong number of fields").
// When the range ends, the span in ctx gets pigging.source.rows and
// pigging.source.bytes.
func CSV[T any](ctx context.Context, path string, scan func(fields []string) (T, error), opts ...Option) iter.Seq2[T, error] {
	return fileSeq(ctx, path, func(yield func(T, error) bool, r io.Reader, c config, st *srcStats) {
		readCSV(ctx, r, path, scan, c, st, yield)
	}, opts)
}

// CSVFrom is CSV on r, which name names in errors; r is not closed.
func CSVFrom[T any](ctx context.Context, r io.Reader, name string, scan func(fields []string) (T, error), opts ...Option) iter.Seq2[T, error] {
	return readerSeq(ctx, r, func(yield func(T, error) bool, r io.Reader, c config, st *srcStats) {
		readCSV(ctx, r, name, scan, c, st, yield)
	}, opts)
}

// WithHeader says that the first record of a CSV source is a header: it
// is skipped and, when columns are given, must be equal to them (else the
// source's error is a *LineError for line 1).
//
// The default is no header: every record is data.
func WithHeader(columns ...string) Option {
	return optionFunc(func(c *config) {
		c.header = true
		c.headerCols = append(c.headerCols, columns...)
	})
}

// NDJSON returns the lines of the newline-delimited JSON file at path as
// a sequence of T, each line decoded into a T with encoding/json; blank
// lines are skipped. It streams and closes as CSV does. An error (a line
// that is not JSON for a T, a line longer than WithMaxLine, ctx's) is the
// last pair handed over, a *LineError naming the file and the line for
// one about a line.
func NDJSON[T any](ctx context.Context, path string, opts ...Option) iter.Seq2[T, error] {
	return fileSeq(ctx, path, func(yield func(T, error) bool, r io.Reader, c config, st *srcStats) {
		readNDJSON(ctx, r, path, c, st, yield)
	}, opts)
}

// NDJSONFrom is NDJSON on r, which name names in errors; r is not closed.
func NDJSONFrom[T any](ctx context.Context, r io.Reader, name string, opts ...Option) iter.Seq2[T, error] {
	return readerSeq(ctx, r, func(yield func(T, error) bool, r io.Reader, c config, st *srcStats) {
		readNDJSON(ctx, r, name, c, st, yield)
	}, opts)
}

// srcStats are a file source's figures for its span.
type srcStats struct{ rows, bytes int64 }

func (st *srcStats) report(ctx context.Context) {
	report(ctx, []attribute.KeyValue{KeySourceRows.Int64(st.rows), KeySourceBytes.Int64(st.bytes)})
}

// fileSeq opens path for each range and hands it to read.
func fileSeq[T any](ctx context.Context, path string, read func(func(T, error) bool, io.Reader, config, *srcStats), opts []Option) iter.Seq2[T, error] {
	return sourceSeq(ctx, func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		return f, nil
	}, read, opts)
}

// readerSeq hands r to read, once.
func readerSeq[T any](ctx context.Context, r io.Reader, read func(func(T, error) bool, io.Reader, config, *srcStats), opts []Option) iter.Seq2[T, error] {
	return sourceSeq(ctx, func() (io.ReadCloser, error) { return io.NopCloser(r), nil }, read, opts)
}

// sourceSeq opens its input for each range, hands it to read, closes it
// and reports the source's counts on the span in ctx. A bad option or an
// input that cannot be opened is the sequence's one error.
func sourceSeq[T any](ctx context.Context, open func() (io.ReadCloser, error), read func(func(T, error) bool, io.Reader, config, *srcStats), opts []Option) iter.Seq2[T, error] {
	c, cerr := newConfig(opts)
	return func(yield func(T, error) bool) {
		var zero T
		if cerr != nil {
			yield(zero, cerr)
			return
		}
		in, err := open()
		if err != nil {
			yield(zero, err)
			return
		}
		defer in.Close()
		var st srcStats
		defer st.report(ctx)
		read(yield, in, c, &st)
	}
}

func readCSV[T any](ctx context.Context, r io.Reader, name string, scan func([]string) (T, error), c config, st *srcStats, yield func(T, error) bool) {
	var zero T
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.ReuseRecord = true
	defer func() { st.bytes = cr.InputOffset() }()
	if c.header {
		head, err := cr.Read()
		if err != nil && err != io.EOF {
			yield(zero, csvErr(name, err))
			return
		}
		if len(c.headerCols) > 0 && !slices.Equal(head, c.headerCols) {
			yield(zero, &LineError{File: name, Line: 1, Err: fmt.Errorf("header is %q, want %q", head, c.headerCols)})
			return
		}
	}
	for {
		if st.rows%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				yield(zero, fmt.Errorf("connect: reading %s: %w", name, err))
				return
			}
		}
		rec, err := cr.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			yield(zero, csvErr(name, err))
			return
		}
		v, err := scan(rec)
		if err != nil {
			line, _ := cr.FieldPos(0)
			yield(zero, &LineError{File: name, Line: int64(line), Err: err})
			return
		}
		st.rows++
		if !yield(v, nil) {
			return
		}
	}
}

// csvErr names the file and line of a CSV reader's error.
func csvErr(name string, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("connect: reading %s: %w", name, err)
	}
	cause := pe.Err
	if pe.Column > 0 && !errors.Is(pe.Err, csv.ErrFieldCount) {
		cause = fmt.Errorf("column %d: %w", pe.Column, pe.Err)
	}
	return &LineError{File: name, Line: int64(pe.StartLine), Err: cause}
}

func readNDJSON[T any](ctx context.Context, r io.Reader, name string, c config, st *srcStats, yield func(T, error) bool) {
	var zero T
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(64<<10, c.maxLine)), c.maxLine)
	var line int64
	for sc.Scan() {
		line++
		b := sc.Bytes()
		st.bytes += int64(len(b)) + 1
		if line%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				yield(zero, fmt.Errorf("connect: reading %s: %w", name, err))
				return
			}
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			yield(zero, &LineError{File: name, Line: line, Err: err})
			return
		}
		st.rows++
		if !yield(v, nil) {
			return
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes (WithMaxLine): %w", c.maxLine, err)
		}
		yield(zero, &LineError{File: name, Line: line + 1, Err: err})
	}
}
