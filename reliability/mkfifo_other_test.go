//go:build !unix

package reliability_test

import "testing"

// mkfifo skips the test: named pipes are a unix thing.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	t.Skipf("no named pipe at %s: this platform has none", path)
}
