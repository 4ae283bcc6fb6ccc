package pigging_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pigging-go/pigging/internal/pigtest"
	"github.com/pigging-go/pigging/pigging"
)

// tinyFS mounts a tmpfs of size bytes in a new temporary directory and
// returns it; it is unmounted at cleanup. Mounting needs root (or
// CAP_SYS_ADMIN): without it the test is skipped, saying so.
func tinyFS(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	opts := "size=" + strconv.Itoa(size) + ",mode=0755"
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("mounting a %d-byte tmpfs for a real full disk needs root: %v", size, err)
		}
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes to path until the file system says it is full, and returns
// how many bytes it took.
func fill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	for _, chunk := range []int{4096, 1} {
		buf := make([]byte, chunk)
		for {
			w, err := f.Write(buf)
			n += int64(w)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				t.Fatalf("filling the disk: %v", err)
			}
		}
	}
	return n
}

// On a real full disk (a tmpfs filled to the last byte), a run that fails
// keeps its failure in the lock file: it says failed with the real cause,
// not running, and the next run's refusal and ReadLock say so rather
// than "died without stopping".
func TestFullDiskKeepsFailure(t *testing.T) {
	cases := map[string]struct {
		fail      func(tr *pigging.Tracker)
		wantError string
	}{
		"records lost": {
			fail:      func(tr *pigging.Tracker) { tr.Info("a record with no room on the disk") },
			wantError: "no space left on device",
		},
		"LogException": {
			fail:      func(tr *pigging.Tracker) { tr.LogException(errors.New("warehouse unreachable")) },
			wantError: "warehouse unreachable",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := tinyFS(t, 64<<10)
			logPath, lockPath := filepath.Join(dir, "job.log"), filepath.Join(dir, "job.lock")
			tr, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts()...)
			if _, err := tr.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			tr.Info("before the disk filled")
			filled := fill(t, filepath.Join(dir, "filler"))
			if probe, err := os.CreateTemp(dir, "probe"); err == nil {
				_, werr := probe.Write([]byte("x"))
				probe.Close()
				if !errors.Is(werr, syscall.ENOSPC) {
					t.Fatalf("after %d bytes the disk is not full: a new file took a write (%v)", filled, werr)
				}
			}
			// The log's last block may still have room: log until a record
			// finds none.
			for i := 0; tr.Log(slog.LevelInfo, "a record with no room on the disk", "i", i) == nil; i++ {
				if i == 10000 {
					t.Fatal("10000 records written to a full disk")
				}
			}
			c.fail(tr)
			err := tr.Stop()
			var we *pigging.LogWriteError
			if !errors.As(err, &we) {
				t.Fatalf("Stop on a full disk = %v, want a *LogWriteError for the lost records", err)
			}

			info := pigtest.ReadLockInfo(t, lockPath)
			if info.Status != pigging.StateFailure || !strings.Contains(info.Error, c.wantError) {
				t.Fatalf("lock after a failed run on a full disk = %+v, want failed saying %q", info, c.wantError)
			}
			st, err := pigging.ReadLock(lockPath)
			if err != nil || st.State != pigging.LockStale || st.Holder == nil || st.Holder.Status != pigging.StateFailure {
				t.Fatalf("ReadLock = %+v, %v; want stale, failed", st, err)
			}
			next, _ := pigging.New(logPath, lockPath, pigtest.QuietOpts(pigging.WithOutput(io.Discard))...)
			_, err = next.Start(context.Background())
			if !errors.Is(err, pigging.ErrStaleLock) || !strings.Contains(err.Error(), "failed: ") ||
				!strings.Contains(err.Error(), c.wantError) || strings.Contains(err.Error(), "died") {
				t.Fatalf("next Start = %v, want ErrStaleLock saying the run failed: %s", err, c.wantError)
			}
		})
	}
}
