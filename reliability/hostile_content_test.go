//go:build unix

package reliability_test

// Hostile content: messages, keys, values and errors full of line breaks,
// terminal escapes, NULs, invalid UTF-8, or a mebibyte long. The file stays
// one record per line (tab-continued stacks aside) and valid UTF-8. The
// escaping of single strings is fuzzed in fuzz_test.go (FuzzLogMessage);
// this test mixes them in every position and at 1 MiB.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pigging-go/pigging/internal/proctest"
	"github.com/pigging-go/pigging/pigging"
)

// hostileStrings are strings that must never split, end or corrupt a line.
var hostileStrings = []string{
	"line one\nline two",
	"carriage\rreturn",
	"crlf\r\n2026-11-27 20:17:06.123 | INFO: forged record",
	"\x1b[31mred\x1b[0m and \x1b]0;title\x07 and \x1b[2J",
	"nul\x00byte",
	"invalid \xff\xfe utf-8 \xc3",
	"truncated rune \xe2\x82",
	"separators \u2028 and \u2029 and NEL \u0085",
	"tab\there and \v\f\b\a",
	"quote \" backslash \\ equals = space",
	"",
	"\t\tleading tabs like a stack line",
	"\n",
	strings.Repeat("\n", 100),
	"\x7f del",
	"emoji 🦫 and accents é",
}

func TestReliabilityHostileContent(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "job.log")
	tr, err := pigging.New(logPath, filepath.Join(dir, "job.lock"), pigging.WithName("hostile\njob"), pigging.WithOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := tr.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	logger := tr.Logger()
	records := 1 // the header
	for i, s := range hostileStrings {
		marker := fmt.Sprintf("<%03d>", i)
		tr.Info(marker+s, "k", s, s, "v", "n", i)
		tr.Warn(marker + s)
		_ = tr.Log(slog.LevelDebug, "dropped below the minimum"+s)
		logger.InfoContext(ctx, marker+s, slog.Group(s, slog.String(s, s)), "err", errors.New(s))
		logger.With(s, s).WithGroup(s).Info(marker+s, s, []byte(s))
		tr.LogException(fmt.Errorf("%s%s", marker, s))
		tr.LogException(&pigging.PanicError{Value: marker + s, Stack: []byte("goroutine 1 [running]:\n" + s + "\n\tmain.go:1 +0x1\n\r\x1b[2K")})
		records += 6
	}
	// A mebibyte in every position at once, mixed with the hostile bytes.
	big := strings.Repeat("ab\n\x1b\xff\x00 ", 1<<20/9)
	tr.Info("<big>"+big, "key"+big, big)
	logger.Info("<big2>", slog.Group("g"+big, "k", big))
	tr.LogException(errors.New("<big3>" + big))
	records += 3
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	records++ // TOTAL SCRIPT TIME

	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := proctest.CheckLogText(t, logPath, data, false)
	heads := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "\t") {
			heads++
		}
	}
	if heads != records {
		t.Errorf("%d record lines, want %d: some content split or swallowed a line", heads, records)
	}
	for i := range hostileStrings {
		marker := fmt.Sprintf("<%03d>", i)
		if n := strings.Count(string(data), marker); n != 5+1 {
			t.Errorf("marker %s found %d times, want 6", marker, n)
		}
	}
	for _, m := range []string{"<big>", "<big2>", "<big3>"} {
		if !strings.Contains(string(data), m) {
			t.Errorf("%s record missing", m)
		}
	}
	if len(data) < 3<<20 {
		t.Errorf("log is %d bytes: the 1 MiB records were cut", len(data))
	}
	if !strings.Contains(lines[0], `job="hostile\njob"`) {
		t.Errorf("header %q does not escape the job name", lines[0])
	}
	t.Logf("%d hostile strings in %d records (%d bytes) stayed one record per line", len(hostileStrings), records, len(data))
}
