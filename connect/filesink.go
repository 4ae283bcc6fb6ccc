package connect

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

// tempInfix is in the name of every temporary file a file sink writes,
// ".<base>.pigging-<random>", beside its target: a name no job's output
// has, that the next write of the same target removes when a killed run
// left it behind.
const tempInfix = ".pigging-"

// WriteFile writes the file at path as write writes it, atomically: into a
// temporary file in the same directory, which is synced, closed, renamed
// over path, and the directory synced. So path holds either its previous
// content or all of the new one, whatever happens to the run (an error, a
// cancelled ctx, a panic, SIGKILL, a power cut after WriteFile returned).
// A temporary file a killed run left beside path is removed first; two
// writers of the same path at once are a mistake (the job's lock prevents
// it), and one of them then fails rather than write a partial file.
//
// It returns write's error, or the file system's, or ctx's when ctx is done
// before the rename, wrapped with the path, and leaves path as it was. The
// file gets WithFileMode's permissions (0644). When it returns, the span
// in ctx has pigging.sink.bytes.
func WriteFile(ctx context.Context, path string, write func(w io.Writer) error, opts ...Option) error {
	c, err := newConfig(opts)
	if err != nil {
		return err
	}
	if write == nil {
		return fmt.Errorf("connect: writing %s: write is nil: %w", path, ErrInvalidOption)
	}
	var n int64
	err = writeFile(ctx, path, c, func(w io.Writer) error {
		cw := &countWriter{w: w}
		defer func() { n = cw.n }()
		return write(cw)
	})
	report(ctx, []attribute.KeyValue{KeySinkBytes.Int64(n)})
	return err
}

func writeFile(ctx context.Context, path string, c config, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("connect: writing %q: not a file name: %w", path, ErrInvalidOption)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("connect: writing %s: %w", path, err)
	}
	removeLeftovers(dir, base)
	f, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("connect: writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(c.mode); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("connect: writing %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("connect: writing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("connect: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("connect: writing %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("connect: writing %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("connect: writing %s: not replaced: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("connect: writing %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		// The file is in place; only its survival of a power cut is in
		// doubt. Say so rather than pretend it was not written.
		return fmt.Errorf("connect: wrote %s, but syncing its directory failed: %w", path, err)
	}
	return nil
}

// removeLeftovers removes the temporary files of earlier writes of base in
// dir: what a killed run left.
func removeLeftovers(dir, base string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "."+escapeGlob(base)+tempInfix+"*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	if runtime.GOOS == "windows" {
		r = strings.NewReplacer(`*`, `?`, `[`, `?`)
	}
	return r.Replace(s)
}

// syncDir makes a rename in dir durable. Windows has no directory sync
// (the rename is durable once MoveFileEx returns).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// FileSink writes sequences of T to one file, atomically (see WriteFile):
// made by NDJSONFile or CSVFile. Its Load has the signature
// middleware.LoadSeq2 wraps. It is safe for concurrent use, though two
// loads at once replace the file one after the other.
type FileSink[T any] struct {
	path   string
	opts   []Option
	encode func(w io.Writer, seq iter.Seq2[T, error], rows *int64) error
}

// NDJSONFile returns a FileSink that writes each item as one line of JSON
// (encoding/json) to the file at path. It touches no file and cannot fail:
// Load reports what goes wrong, an item encoding/json refuses included.
func NDJSONFile[T any](path string, opts ...Option) *FileSink[T] {
	return &FileSink[T]{path: path, opts: opts, encode: func(w io.Writer, seq iter.Seq2[T, error], rows *int64) error {
		enc := json.NewEncoder(w)
		for v, err := range seq {
			if err != nil {
				return fmt.Errorf("row %d of the input: %w", *rows+1, err)
			}
			if err := enc.Encode(v); err != nil {
				return fmt.Errorf("row %d: %w", *rows+1, err)
			}
			*rows++
		}
		return nil
	}}
}

// CSVFile returns a FileSink that writes header (when not empty) and then
// one CSV record per item, made by record, to the file at path. record
// appends the item's fields to dst (a reused slice) and returns it. It
// touches no file and cannot fail: Load reports what goes wrong, a nil
// record as an error wrapping ErrInvalidOption.
func CSVFile[T any](path string, header []string, record func(v T, dst []string) []string, opts ...Option) *FileSink[T] {
	return &FileSink[T]{path: path, opts: opts, encode: func(w io.Writer, seq iter.Seq2[T, error], rows *int64) error {
		if record == nil {
			return fmt.Errorf("record is nil: %w", ErrInvalidOption)
		}
		cw := csv.NewWriter(w)
		if len(header) > 0 {
			if err := cw.Write(header); err != nil {
				return err
			}
		}
		var rec []string
		for v, err := range seq {
			if err != nil {
				return fmt.Errorf("row %d of the input: %w", *rows+1, err)
			}
			rec = record(v, rec[:0])
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("row %d: %w", *rows+1, err)
			}
			*rows++
		}
		cw.Flush()
		return cw.Error()
	}}
}

// Load writes the items of seq to the sink's file, replacing it only when
// all were written (see WriteFile). An error from seq, the encoder or the
// file system, or ctx's when ctx is done before the rename, is returned
// wrapped with the path and the row, and the file is left as it was. When
// it returns, the span in ctx has pigging.sink.rows and pigging.sink.bytes.
func (s *FileSink[T]) Load(ctx context.Context, seq iter.Seq2[T, error]) error {
	if seq == nil {
		return fmt.Errorf("connect: writing %s: the sequence is nil: %w", s.path, ErrInvalidOption)
	}
	var rows int64
	err := WriteFile(ctx, s.path, func(w io.Writer) error { return s.encode(w, seq, &rows) }, s.opts...)
	report(ctx, []attribute.KeyValue{KeySinkRows.Int64(rows)})
	return err
}
