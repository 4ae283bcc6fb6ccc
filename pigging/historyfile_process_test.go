//go:build unix

package pigging_test

// The lock file's run history between real processes: appenders killed
// mid-append or mid-trim, appenders racing each other, and the files a
// hostile history path can be on unix (a FIFO, a hard link, a file another
// user owns).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

func init() {
	childScenarios["history-append"] = childHistoryAppend
}

// childHistoryAppend appends HISTORY_COUNT entries (forever when 0) to the
// history of the lock file HISTORY_LOCK with keep HISTORY_KEEP, each named
// HISTORY_TAG and numbered by its PID field from 0.
func childHistoryAppend() int {
	h := pigging.NewFileLocker(os.Getenv("HISTORY_LOCK"), 0o644).(pigging.History)
	count := proctest.ChildEnvInt("HISTORY_COUNT", 0)
	keep := proctest.ChildEnvInt("HISTORY_KEEP", 100)
	tag := os.Getenv("HISTORY_TAG")
	for i := 0; count == 0 || i < count; i++ {
		if err := h.AppendRun(context.Background(), historyEntry(tag, i), keep); err != nil {
			proctest.ChildDie("AppendRun %d: %v", i, err)
		}
	}
	return 0
}

// checkHistoryFile reads the history file at path and checks that every
// line is an entry, but a last line that lacks its newline when torn is
// true. It returns the entries, oldest first.
func checkHistoryFile(t testing.TB, path string, torn bool) []pigging.RunEntry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !torn && len(data) > 0 && !bytes.HasSuffix(data, []byte{'\n'}) {
		t.Errorf("history ends in a torn line: %q", data[max(0, len(data)-80):])
	}
	var out []pigging.RunEntry
	for i, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" || torn && !strings.HasSuffix(line, "\n") {
			continue
		}
		var e pigging.RunEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Result == "" {
			t.Errorf("line %d is not an entry (%v): %q", i+1, err, line)
			continue
		}
		out = append(out, e)
	}
	return out
}

// TestHistoryKilledAppender kills a process appending in a loop, with a
// keep small enough that it trims every few appends, at random moments:
// the history stays readable, loses no entry the process finished but the
// ones a trim dropped, and the next append is whole.
func TestHistoryKilledAppender(t *testing.T) {
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	const keep = 10
	lock := filepath.Join(t.TempDir(), "job.lock")
	path := pigging.HistoryPath(lock)
	h := pigging.NewFileLocker(lock, 0o644).(pigging.History)
	for round := range rounds {
		tag := fmt.Sprintf("round-%d", round)
		c := proctest.Start(t, "history-append", "HISTORY_LOCK="+lock, "HISTORY_KEEP="+fmt.Sprint(keep), "HISTORY_TAG="+tag)
		pollUntil(t, 10*time.Second, "the child's first entries", func() bool {
			es, err := pigging.ReadHistory(lock, 1)
			return err == nil && len(es) == 1 && es[0].Job == tag && es[0].PID >= 3
		})
		time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
		if err := c.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.Wait(t, 10*time.Second)
		if sig, ok := c.Signaled(); !ok || sig != syscall.SIGKILL {
			t.Fatalf("child ended with %v, not by SIGKILL; stderr:\n%s", c.ProcessState(), c.Stderr())
		}

		got, err := pigging.ReadHistory(lock, 0)
		if err != nil {
			t.Fatalf("round %d: ReadHistory after the kill: %v", round, err)
		}
		if len(got) > keep || round > 0 && len(got) != keep || len(got) < 4 {
			t.Errorf("round %d: %d entries after the kill, want %d", round, len(got), keep)
		}
		// The killed child's entries are the newest, numbered without a gap.
		last := got[0].PID
		for i, e := range got {
			if e.Job != tag {
				break
			}
			if e.PID != last-i {
				t.Errorf("round %d: entry %d is %s/%d, want %d: an entry was lost", round, i, e.Job, e.PID, last-i)
			}
		}
		checkHistoryFile(t, path, true)

		// The next appends are whole; enough of them to trim.
		for i := range keep/2 + 1 {
			appendRun(t, h, historyEntry("after-"+tag, i), keep)
		}
		got = runs(t, h, lock, 0)
		if a, b := mustJSON(t, &got[0]), mustJSON(t, historyEntry("after-"+tag, keep/2)); a != b {
			t.Errorf("round %d: the entry after the kill reads\n%s\nwant\n%s", round, a, b)
		}
		checkHistoryFile(t, path, false)
		if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp-*")); len(tmps) != 0 {
			t.Errorf("round %d: temporary files left after a trim: %v", round, tmps)
		}
	}
}

// TestHistoryConcurrentAppenders runs two processes appending 200 entries
// each at once: with a large keep all 400 are there, each process's in
// its order and none torn; with a small one the file holds the last keep
// in the order they were added.
func TestHistoryConcurrentAppenders(t *testing.T) {
	const each = 200
	for _, keep := range []int{1000, 20} {
		t.Run(fmt.Sprintf("keep-%d", keep), func(t *testing.T) {
			lock := filepath.Join(t.TempDir(), "job.lock")
			start := time.Now()
			var cs []*proctest.Child
			for _, tag := range []string{"a", "b"} {
				cs = append(cs, proctest.Start(t, "history-append", "HISTORY_LOCK="+lock,
					"HISTORY_COUNT="+fmt.Sprint(each), "HISTORY_KEEP="+fmt.Sprint(keep), "HISTORY_TAG="+tag))
			}
			for _, c := range cs {
				if code := c.Wait(t, 60*time.Second); code != 0 {
					t.Fatalf("child exited %d; stderr:\n%s", code, c.Stderr())
				}
			}
			took := time.Since(start)
			file := checkHistoryFile(t, pigging.HistoryPath(lock), false)
			got, err := pigging.ReadHistory(lock, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := min(2*each, keep)
			if len(got) != want {
				t.Fatalf("%d entries, want %d", len(got), want)
			}
			next := map[string]int{}
			for i := len(got) - 1; i >= 0; i-- {
				e := got[i]
				if n, seen := next[e.Job]; seen && e.PID != n {
					t.Errorf("entry %s/%d follows %s/%d", e.Job, e.PID, e.Job, n-1)
				}
				next[e.Job] = e.PID + 1
			}
			if keep >= 2*each && (next["a"] != each || next["b"] != each || len(file) != 2*each) {
				t.Errorf("last entries a/%d b/%d, %d lines in the file; want all %d of each", next["a"]-1, next["b"]-1, len(file), each)
			}
			interleaved := 0
			for i := 1; i < len(got); i++ {
				if got[i].Job != got[i-1].Job {
					interleaved++
				}
			}
			t.Logf("%d appends from 2 processes in %v; the processes took turns %d times", 2*each, took, interleaved)
		})
	}
}

// TestHistoryFIFO puts a FIFO at the history path, with no process at the
// other end: AppendRun and Runs refuse it at once instead of waiting for
// a writer or a reader.
func TestHistoryFIFO(t *testing.T) {
	h, lock := fileHistory(t)
	path := pigging.HistoryPath(lock)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan [2]error, 1)
	go func() {
		err1 := h.AppendRun(context.Background(), historyEntry("job", 1), 10)
		_, err2 := h.Runs(context.Background(), 0)
		done <- [2]error{err1, err2}
	}()
	select {
	case errs := <-done:
		checkPathError(t, errs[0], lock, "not a regular file")
		checkPathError(t, errs[1], lock, "not a regular file")
	case <-time.After(5 * time.Second):
		// Unblock the open, so that the goroutine ends.
		f, _ := os.OpenFile(path, os.O_RDWR, 0)
		<-done
		f.Close()
		t.Fatal("a FIFO at the history path blocked")
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", fi, err)
	}
}

// TestHistoryHardLink refuses to append to a history with a second name,
// which the append would change too; it reads it.
func TestHistoryHardLink(t *testing.T) {
	h, lock := fileHistory(t)
	path := pigging.HistoryPath(lock)
	appendRun(t, h, historyEntry("job", 1), 10)
	if err := os.Link(path, path+".other"); err != nil {
		t.Skipf("no hard links: %v", err)
	}
	before, _ := os.ReadFile(path)
	checkPathError(t, h.AppendRun(context.Background(), historyEntry("job", 2), 10), lock, "hard links")
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the history changed")
	}
	if got := runs(t, h, lock, 0); len(got) != 1 {
		t.Errorf("Runs = %d entries, want 1", len(got))
	}
}

// TestHistoryForeignOwner: a job run as root refuses to append to a history
// another user owns, as it refuses such a lock file; it reads it.
func TestHistoryForeignOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only a job run as root refuses files other users own")
	}
	h, lock := fileHistory(t)
	path := pigging.HistoryPath(lock)
	appendRun(t, h, historyEntry("job", 1), 10)
	if err := os.Chown(path, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	checkPathError(t, h.AppendRun(context.Background(), historyEntry("job", 2), 10), lock, "owned by uid 4242")
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the history changed")
	}
	if got := runs(t, h, lock, 0); len(got) != 1 {
		t.Errorf("Runs = %d entries, want 1", len(got))
	}
}

// TestHistoryDevice puts a character device (the null device's numbers)
// at the history path: both doors refuse it before opening it.
func TestHistoryDevice(t *testing.T) {
	h, lock := fileHistory(t)
	path := pigging.HistoryPath(lock)
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("mknod: %v", err)
	}
	checkPathError(t, h.AppendRun(context.Background(), historyEntry("job", 1), 10), lock, "not a regular file")
	_, err := pigging.ReadHistory(lock, 0)
	checkPathError(t, err, lock, "not a regular file")
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("the device was replaced: %v %v", fi, err)
	}
}
