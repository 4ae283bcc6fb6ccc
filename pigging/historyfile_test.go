package pigging_test

// The lock file's run history: the entries it keeps, their order, the
// trimming, and what it does with a torn, garbage, hostile or huge file.
// The tests between processes are in historyfile_process_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pigging-go/pigging/pigging"
)

// fileHistory returns the history of a lock file in a new directory, and
// the lock file's path.
func fileHistory(t testing.TB) (pigging.History, string) {
	t.Helper()
	lock := filepath.Join(t.TempDir(), "job.lock")
	h, ok := pigging.NewFileLocker(lock, 0o644).(pigging.History)
	if !ok {
		t.Fatal("the lock file's Locker does not keep a history")
	}
	return h, lock
}

// historyEntry returns an entry with every field set, numbered seq (its
// PID), as the job job.
func historyEntry(job string, seq int) *pigging.RunEntry {
	code := seq % 3
	start := time.Date(2026, 3, 29, 1, 59, 58, 123456789, time.UTC).Add(time.Duration(seq) * time.Minute)
	return &pigging.RunEntry{
		Job:        job,
		Host:       "batch-1",
		PID:        seq,
		Started:    start,
		Ended:      start.Add(1500 * time.Millisecond),
		Duration:   1.5,
		Result:     pigging.StateFailure,
		Error:      "load: row 7: duplicate key\n\tsecond line \"quoted\" é",
		ExitCode:   &code,
		ExitSource: "job",
		TraceID:    "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:     "00f067aa0ba902b7",
		Log:        "/var/log/etl/job.log",
		Stages: []pigging.StageTotal{
			{Kind: "extract", Name: "orders", In: 0, Out: 1200, Calls: 1},
			{Kind: "load", Name: "warehouse", In: 1200, Out: 1193, Calls: 3, Failed: 1},
		},
	}
}

// appendRun appends e with keep and fails the test on an error.
func appendRun(t testing.TB, h pigging.History, e *pigging.RunEntry, keep int) {
	t.Helper()
	if err := h.AppendRun(context.Background(), e, keep); err != nil {
		t.Fatalf("AppendRun: %v", err)
	}
}

// runs reads the history with Runs and with ReadHistory, which must agree.
func runs(t testing.TB, h pigging.History, lock string, n int) []pigging.RunEntry {
	t.Helper()
	got, err := h.Runs(context.Background(), n)
	if err != nil {
		t.Fatalf("Runs(%d): %v", n, err)
	}
	again, err := pigging.ReadHistory(lock, n)
	if err != nil {
		t.Fatalf("ReadHistory(%d): %v", n, err)
	}
	if a, b := mustJSON(t, got), mustJSON(t, again); a != b {
		t.Fatalf("Runs and ReadHistory differ:\n%s\n%s", a, b)
	}
	return got
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pids returns the PID (the sequence number) of each entry.
func pids(es []pigging.RunEntry) []int {
	out := make([]int, len(es))
	for i, e := range es {
		out[i] = e.PID
	}
	return out
}

func TestHistoryRoundTrip(t *testing.T) {
	h, lock := fileHistory(t)
	want := historyEntry("nightly", 7)
	appendRun(t, h, want, 0)
	got := runs(t, h, lock, 0)
	if len(got) != 1 {
		t.Fatalf("got %d entries, want 1", len(got))
	}
	if a, b := mustJSON(t, &got[0]), mustJSON(t, want); a != b {
		t.Errorf("entry changed on its way through the file:\ngot  %s\nwant %s", a, b)
	}
	if !got[0].Started.Equal(want.Started) || !got[0].Ended.Equal(want.Ended) {
		t.Errorf("times: got %v–%v, want %v–%v", got[0].Started, got[0].Ended, want.Started, want.Ended)
	}
	if got[0].ExitCode == nil || *got[0].ExitCode != *want.ExitCode {
		t.Errorf("exit code: got %v, want %d", got[0].ExitCode, *want.ExitCode)
	}
	// An entry with its optional fields empty leaves them out and reads
	// back the same.
	bare := &pigging.RunEntry{Job: "nightly", Host: "h", PID: 8, Started: want.Started, Ended: want.Started, Result: pigging.StateSkip}
	appendRun(t, h, bare, 0)
	got = runs(t, h, lock, 1)
	if a, b := mustJSON(t, &got[0]), mustJSON(t, bare); a != b {
		t.Errorf("bare entry: got %s, want %s", a, b)
	}
	// The file is JSON lines, one entry each.
	data, err := os.ReadFile(pigging.HistoryPath(lock))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"job":"nightly"`) || !strings.Contains(lines[1], `"result":"skip"`) {
		t.Errorf("file is not one JSON line per entry:\n%s", data)
	}
	if pigging.HistoryPath(lock) != lock+".history" {
		t.Errorf("HistoryPath(%q) = %q", lock, pigging.HistoryPath(lock))
	}
}

func TestHistoryNewestFirstAndBounds(t *testing.T) {
	h, lock := fileHistory(t)
	if got := runs(t, h, lock, 0); len(got) != 0 {
		t.Fatalf("missing file: got %d entries, want an empty history", len(got))
	}
	for i := range 5 {
		appendRun(t, h, historyEntry("job", i), 10)
	}
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{0, []int{4, 3, 2, 1, 0}},
		{-1, []int{4, 3, 2, 1, 0}},
		{1, []int{4}},
		{3, []int{4, 3, 2}},
		{5, []int{4, 3, 2, 1, 0}},
		{50, []int{4, 3, 2, 1, 0}},
	} {
		if got := pids(runs(t, h, lock, tc.n)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Runs(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	// A smaller keep holds for readers at once, before the file is
	// trimmed: 6 lines are not more than 4 + 4/2.
	appendRun(t, h, historyEntry("job", 5), 4)
	if got := pids(runs(t, h, lock, 0)); fmt.Sprint(got) != "[5 4 3 2]" {
		t.Errorf("after keep 4, Runs(0) = %v, want [5 4 3 2]", got)
	}
	if got := pids(runs(t, h, lock, 2)); fmt.Sprint(got) != "[5 4]" {
		t.Errorf("after keep 4, Runs(2) = %v, want [5 4]", got)
	}
	appendRun(t, h, historyEntry("job", 6), 10)
	if got := pids(runs(t, h, lock, 0)); fmt.Sprint(got) != "[6 5 4 3 2 1 0]" {
		t.Errorf("after keep 10 again, Runs(0) = %v, want all seven", got)
	}
}

func TestHistoryErrorCut(t *testing.T) {
	h, lock := fileHistory(t)
	long := strings.Repeat("é", pigging.MaxHistoryError) // 2 bytes each
	e := historyEntry("job", 1)
	e.Error = long
	appendRun(t, h, e, 0)
	if e.Error != long {
		t.Error("AppendRun changed the caller's entry")
	}
	bad := historyEntry("job", 2)
	bad.Error = "bad \xff\xfe bytes"
	appendRun(t, h, bad, 0)

	got := runs(t, h, lock, 0)
	cut := got[1].Error
	if len(cut) > pigging.MaxHistoryError || !utf8.ValidString(cut) {
		t.Errorf("error cut to %d bytes (want <= %d), valid UTF-8 %v", len(cut), pigging.MaxHistoryError, utf8.ValidString(cut))
	}
	if !strings.HasPrefix(cut, strings.Repeat("é", 1000)) || !strings.Contains(cut, "cut") {
		t.Errorf("cut error does not keep its start and say it was cut: %q", cut[len(cut)-80:])
	}
	if got[0].Error != "bad \uFFFD bytes" {
		t.Errorf("invalid UTF-8 stored as %q", got[0].Error)
	}
}

func TestHistoryManyStagesFit(t *testing.T) {
	h, lock := fileHistory(t)
	e := historyEntry("job", 1)
	e.Error = strings.Repeat("x", 10000)
	for i := range 2000 {
		e.Stages = append(e.Stages, pigging.StageTotal{Kind: "stage", Name: fmt.Sprintf("step-%04d", i), In: 1, Out: 1, Calls: 1})
	}
	appendRun(t, h, e, 0)
	got := runs(t, h, lock, 0)
	if len(got) != 1 || len(got[0].Stages) == 0 || len(got[0].Stages) >= len(e.Stages) {
		t.Fatalf("got %d entries, %d stages; want one entry keeping the first stages that fit", len(got), len(got[0].Stages))
	}
	if got[0].Stages[0].Name != "extract" && got[0].Stages[0].Name != "orders" {
		t.Errorf("first stage kept is %+v, want the entry's first", got[0].Stages[0])
	}
	fi, err := os.Stat(pigging.HistoryPath(lock))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 32<<10 {
		t.Errorf("one entry takes %d bytes, want at most 32 KiB", fi.Size())
	}
	t.Logf("%d stages of %d kept, line of %d bytes", len(got[0].Stages), len(e.Stages), fi.Size())
}

// TestHistoryTrim appends 10,000 entries (1,000 with -short) with keep
// 100: the history is then exactly the last 100, in order, and the file
// never grows past half as many lines again. It checks the trimming, not
// the disk: it runs in a memory file system where there is one, as 10,000
// fsyncs took 13 s to 70 s on a shared ext4 disk, against 3.6 s (20 s
// with -race on 2 loaded cores) in memory.
func TestHistoryTrim(t *testing.T) {
	const keep = 100
	dir, inMemory := memoryDir(t)
	n := 10000
	if testing.Short() {
		n = 1000
	}
	lock := filepath.Join(dir, "job.lock")
	h := pigging.NewFileLocker(lock, 0o644).(pigging.History)
	path := pigging.HistoryPath(lock)
	var lineLen, maxSize int64
	start := time.Now()
	for i := range n {
		appendRun(t, h, historyEntry("job", i), keep)
		if i == 0 {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			lineLen = fi.Size() + 8 // room for longer numbers
		}
		if fi, err := os.Stat(path); err != nil {
			t.Fatal(err)
		} else {
			maxSize = max(maxSize, fi.Size())
		}
	}
	took := time.Since(start)
	got := runs(t, h, lock, 0)
	if len(got) != keep {
		t.Fatalf("got %d entries, want %d", len(got), keep)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(data, []byte{'\n'}); lines < keep || lines > keep+keep/2 {
		t.Errorf("the file holds %d lines, want %d to %d", lines, keep, keep+keep/2)
	}
	for i, e := range got {
		if want := n - 1 - i; e.PID != want {
			t.Fatalf("entry %d is run %d, want %d", i, e.PID, want)
		}
	}
	if bound := lineLen * (keep + keep/2); maxSize > bound {
		t.Errorf("file grew to %d bytes, want at most %d (%d lines of %d)", maxSize, bound, keep+keep/2, lineLen)
	}
	t.Logf("%d appends in %v (%v each, in memory %v), file at most %d bytes", n, took, took/time.Duration(n), inMemory, maxSize)
	if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

// TestHistoryTornAndGarbage reads a history with garbage lines in the
// middle and an entry torn at its end: Runs skips them, the next entry
// is whole, and a trim drops them.
func TestHistoryTornAndGarbage(t *testing.T) {
	h, lock := fileHistory(t)
	path := pigging.HistoryPath(lock)
	var b bytes.Buffer
	line := func(e *pigging.RunEntry) {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	line(historyEntry("job", 0))
	b.WriteString("not json at all\n")
	b.WriteString("{}\n")
	b.WriteString("null\n")
	b.WriteString("\x00\x00\x00\x00\n")
	b.WriteString(`{"job":"job","result":` + "\n")
	b.WriteString("\n")
	b.WriteString(`[{"result":"success"}]` + "\n")
	line(historyEntry("job", 1))
	torn, _ := json.Marshal(historyEntry("job", 2))
	b.Write(torn[:len(torn)/2])
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	if got := pids(runs(t, h, lock, 0)); fmt.Sprint(got) != "[1 0]" {
		t.Fatalf("Runs = %v, want [1 0]", got)
	}
	appendRun(t, h, historyEntry("job", 3), 100)
	got := runs(t, h, lock, 0)
	if fmt.Sprint(pids(got)) != "[3 1 0]" {
		t.Fatalf("after an append, Runs = %v, want [3 1 0]", pids(got))
	}
	if a, b := mustJSON(t, &got[0]), mustJSON(t, historyEntry("job", 3)); a != b {
		t.Errorf("entry after a torn line:\ngot  %s\nwant %s", a, b)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, append(torn[:len(torn)/2:len(torn)/2], '\n')) {
		t.Errorf("the torn entry was not closed by a newline before the next one")
	}

	// keep 2: the next appends trim, dropping the garbage and the torn line.
	for i := 4; i < 8; i++ {
		appendRun(t, h, historyEntry("job", i), 2)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) > 3 {
		t.Errorf("file holds %d lines after trimming to 2 (at most 3 between trims):\n%s", len(lines), data)
	}
	for i, l := range lines {
		var e pigging.RunEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Result == "" {
			t.Errorf("line %d after a trim is not an entry: %q", i+1, l)
		}
	}
	if got := pids(runs(t, h, lock, 0)); got[0] != 7 || got[1] != 6 {
		t.Errorf("Runs = %v, want the last two, 7 and 6, first", got)
	}
}

// checkPathError checks that err is a *PathError about the history of lock
// that says what: something in its text.
func checkPathError(t testing.TB, err error, lock, what string) {
	t.Helper()
	var pe *pigging.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v (%T), want a *pigging.PathError", err, err)
	}
	if pe.Op != "history" || pe.Path != pigging.HistoryPath(lock) || !strings.Contains(pe.Error(), what) {
		t.Errorf("got %q (Op %q, Path %q), want Op history, the history path and %q", pe.Error(), pe.Op, pe.Path, what)
	}
}

// TestHistoryHostilePath puts a symlink or a directory at the history
// path, and the lock in a missing directory: both doors refuse with a
// *PathError and write nothing.
func TestHistoryHostilePath(t *testing.T) {
	for _, tc := range []struct {
		name    string
		make    func(t *testing.T, path string)
		what    string
		readsOK bool // Runs reports an empty history
	}{
		{"symlink", func(t *testing.T, path string) {
			target := filepath.Join(filepath.Dir(path), "target")
			if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Skipf("no symlinks here: %v", err)
			}
		}, "symlink", false},
		{"dangling-symlink", func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(path), "nowhere"), path); err != nil {
				t.Skipf("no symlinks here: %v", err)
			}
		}, "symlink", false},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "directory", false},
		{"missing-directory", func(t *testing.T, path string) {
			if err := os.RemoveAll(filepath.Dir(path)); err != nil {
				t.Fatal(err)
			}
		}, "does not exist", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, lock := fileHistory(t)
			path := pigging.HistoryPath(lock)
			tc.make(t, path)
			before := listDir(t, filepath.Dir(path))
			start := time.Now()
			checkPathError(t, h.AppendRun(context.Background(), historyEntry("job", 1), 10), lock, tc.what)
			got, err := h.Runs(context.Background(), 0)
			if tc.readsOK {
				if err != nil || len(got) != 0 {
					t.Errorf("Runs = %d entries, %v; want an empty history", len(got), err)
				}
			} else {
				checkPathError(t, err, lock, tc.what)
				_, err = pigging.ReadHistory(lock, 0)
				checkPathError(t, err, lock, tc.what)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusing took %v", d)
			}
			if after := listDir(t, filepath.Dir(path)); after != before {
				t.Errorf("the directory changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// listDir describes dir's names, sizes and contents of small files, or
// says it is missing.
func listDir(t testing.TB, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "missing"
	}
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		fi, err := os.Lstat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %v %d", e.Name(), fi.Mode(), fi.Size())
		if fi.Mode().IsRegular() && fi.Size() < 1024 {
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			fmt.Fprintf(&b, " %q", data)
		}
		b.WriteString("; ")
	}
	return b.String()
}

// TestHistoryHugeSparseFile reads and appends to a 1 GiB history (sparse:
// zeros but for a few entries at its end): Runs and the trim read only its
// tail, measured by the bytes they allocate.
func TestHistoryHugeSparseFile(t *testing.T) {
	h, lock := fileHistory(t)
	path := pigging.HistoryPath(lock)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var tail bytes.Buffer
	tail.WriteByte('\n')
	for i := range 3 {
		data, _ := json.Marshal(historyEntry("job", i))
		tail.Write(append(data, '\n'))
	}
	const huge = 1 << 30
	if _, err := f.WriteAt(tail.Bytes(), huge); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	const bound = 16 << 20
	allocated := func(fn func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		fn()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	var got []pigging.RunEntry
	readAlloc := allocated(func() {
		got, err = h.Runs(context.Background(), 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(pids(got)) != "[2 1 0]" {
		t.Errorf("Runs = %v, want [2 1 0]", pids(got))
	}
	if readAlloc > bound {
		t.Errorf("Runs of a 1 GiB file allocated %d MiB, want < %d MiB", readAlloc>>20, bound>>20)
	}
	appendAlloc := allocated(func() {
		err = h.AppendRun(context.Background(), historyEntry("job", 3), 100)
	})
	if err != nil {
		t.Fatal(err)
	}
	if appendAlloc > bound {
		t.Errorf("AppendRun to a 1 GiB file allocated %d MiB, want < %d MiB", appendAlloc>>20, bound>>20)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 1<<20 {
		t.Errorf("after AppendRun the history is %d bytes, want it trimmed to its entries", fi.Size())
	}
	if got := pids(runs(t, h, lock, 0)); fmt.Sprint(got) != "[3 2 1 0]" {
		t.Errorf("after the trim Runs = %v, want [3 2 1 0]", got)
	}
	t.Logf("Runs allocated %d KiB, AppendRun with its trim %d KiB; file now %d bytes", readAlloc>>10, appendAlloc>>10, fi.Size())
}

// memoryDir returns a new directory in /dev/shm, a memory file system on
// Linux, removed when the test ends, and true; or t.TempDir() and false
// where there is none.
func memoryDir(t testing.TB) (string, bool) {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); runtime.GOOS != "linux" || err != nil || !fi.IsDir() {
		return t.TempDir(), false
	}
	dir, err := os.MkdirTemp("/dev/shm", "pigging-history-")
	if err != nil {
		return t.TempDir(), false
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir, true
}
