// Package pigtest holds the helpers that pigging's own tests and the
// reliability tests share: files made or read in a test's directory, the
// options of a Tracker that writes nothing to stdout, and the child
// scenarios that both packages' process tests start (ChildTry,
// ChildHoldReport) with the exit codes they report. The helpers for running
// children at all are in internal/proctest.
//
// It is imported only by tests.
package pigtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"testing"

	"github.com/pigging-go/pigging/pigging"
)

// QuietOpts returns the options of a Tracker named "bad" that writes
// nothing to stdout, then opts.
func QuietOpts(opts ...pigging.Option) []pigging.Option {
	return append([]pigging.Option{pigging.WithName("bad"), pigging.WithOutput(io.Discard)}, opts...)
}

// WriteFile writes content to the file at path (mode 0644), failing the
// test at once (t.Fatal) when it cannot.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Mkdir makes the directory path (mode 0755), failing the test at once
// (t.Fatal) when it cannot.
func Mkdir(t testing.TB, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

// Symlink makes path a symbolic link to target, failing the test at once
// (t.Fatal) when it cannot.
func Symlink(t testing.TB, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// ReadLockInfo reads the lock file at path as a LockInfo, failing the test
// at once (t.Fatalf) when it cannot be read or holds a field LockInfo does
// not have.
func ReadLockInfo(t testing.TB, path string) pigging.LockInfo {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading lock: %v", err)
	}
	var info pigging.LockInfo
	if err := unmarshalStrict(data, &info); err != nil {
		t.Fatalf("lock file %q: %v", data, err)
	}
	return info
}

// unmarshalStrict decodes data into v, refusing fields v does not have.
func unmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
