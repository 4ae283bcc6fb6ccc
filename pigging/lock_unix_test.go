//go:build unix

package pigging_test

import (
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pigging-go/pigging/pigging"
)

// unitUmask returns the process umask. It reads /proc where it can, since
// syscall.Umask can only read the mask by changing it for a moment.
func unitUmask(t *testing.T) fs.FileMode {
	t.Helper()
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Umask:"); ok {
				m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
				if err == nil {
					return fs.FileMode(m)
				}
			}
		}
	}
	m := syscall.Umask(0o022)
	syscall.Umask(m)
	return fs.FileMode(m)
}

func TestFileModes(t *testing.T) {
	umask := unitUmask(t)
	tests := []struct {
		name string
		opts []pigging.Option
		want fs.FileMode
	}{
		{"default", nil, 0o644},
		{"0600", []pigging.Option{pigging.WithFileMode(0o600)}, 0o600},
		{"0640", []pigging.Option{pigging.WithFileMode(0o640)}, 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want &^ umask
			e := newUnitEnv(t)
			tr, _ := e.start(t, tt.opts...)
			for _, p := range []string{e.log, e.lock} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s mode = %v, want %v (%v less umask %v)", p, got, want, tt.want, umask)
				}
			}
			// A failed run keeps its lock with the same mode.
			_ = tr.LogException(os.ErrInvalid)
			if err := tr.Stop(); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(e.lock); err != nil || fi.Mode().Perm() != want {
				t.Errorf("kept lock mode = %v (%v), want %v", fi.Mode().Perm(), err, want)
			}
			// A refused Start that creates the log (it was deleted) uses
			// the mode too.
			if err := os.Remove(e.log); err != nil {
				t.Fatal(err)
			}
			if _, err := e.tracker(t, tt.opts...).Start(t.Context()); err == nil {
				t.Fatal("Start over a failed run's lock succeeded")
			}
			if fi, err := os.Stat(e.log); err != nil || fi.Mode().Perm() != want {
				t.Errorf("log made by a refused Start: mode %v (%v), want %v", fi.Mode().Perm(), err, want)
			}
		})
	}
}
