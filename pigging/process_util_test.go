//go:build unix

package pigging_test

// Helpers for the process tests of this package that internal/proctest does
// not hold: waiting and signalling through files, on both sides of a child.

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

// childTracker makes a child's Tracker for the files LOG and LOCK, named
// job, writing nothing to stdout, taking over a stale lock when
// STALE=takeover, with opts after that. It dies with ChildDie when New fails.
func childTracker(job string, opts ...pigging.Option) *pigging.Tracker {
	all := []pigging.Option{pigging.WithName(job), pigging.WithOutput(nil)}
	if os.Getenv("STALE") == "takeover" {
		all = append(all, pigging.WithStaleLock(pigging.TakeOver))
	}
	t, err := pigging.New(os.Getenv("LOG"), os.Getenv("LOCK"), append(all, opts...)...)
	if err != nil {
		proctest.ChildDie("New: %v", err)
	}
	return t
}

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

// jsonUnmarshalStrict decodes data into v, refusing fields v does not have.
func jsonUnmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
