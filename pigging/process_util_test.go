//go:build unix

package pigging_test

// A helper for the process tests of this package that internal/proctest and
// internal/pigtest do not hold: waiting on the parent's side for a child.

import (
	"testing"
	"time"
)

// pollUntil calls cond every millisecond until it returns true, failing the
// test after d.
func pollUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}
