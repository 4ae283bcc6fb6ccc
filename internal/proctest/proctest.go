// Package proctest holds the helpers shared by the tests that run real child
// processes: the test binary started again with ChildEnv naming a scenario,
// which its TestMain runs instead of the tests. On unix, Start and StartLines
// run such a child; every child is killed and reaped in t.Cleanup, and every
// wait has a deadline. ChildDie and ChildEnvInt are for the child's side, and
// ReadLogLines, RecordTexts and CheckLogText check the shape of the log files
// the children write.
//
// It is imported only by tests.
package proctest

import (
	"fmt"
	"go.uber.org/goleak"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// ChildEnv is the environment variable that names the child scenario a
// re-run of a test binary plays instead of running the tests. Start sets it;
// the TestMain of a package that starts children dispatches on it.
const ChildEnv = "PIGGING_TEST_CHILD"

// Main is the TestMain of a package that starts children. When ChildEnv
// names a scenario it runs that function of scenarios instead of the tests
// and exits with its result (100 for a scenario it does not know, listing
// the known ones); otherwise it runs the tests, failing them if goroutines
// leak.
func Main(m *testing.M, scenarios map[string]func() int) {
	if name := os.Getenv(ChildEnv); name != "" {
		fn, ok := scenarios[name]
		if !ok {
			names := slices.Sorted(maps.Keys(scenarios))
			fmt.Fprintf(os.Stderr, "unknown child scenario %q (known: %v)\n", name, names)
			os.Exit(100)
		}
		os.Exit(fn())
	}
	goleak.VerifyTestMain(m)
}

// ChildDie reports a child's own failure (not the outcome under test) on
// stderr, prefixed with the child's pid, and exits the process with 99.
func ChildDie(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "child %d: "+format+"\n", append([]any{os.Getpid()}, args...)...)
	os.Exit(99)
}

// ChildEnvInt reads an integer parameter of a child from the environment
// variable name, returning def when it is unset or empty. A value that is not
// an integer makes the child die with ChildDie.
func ChildEnvInt(name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		ChildDie("%s=%q: %v", name, s, err)
	}
	return n
}

// lineRE matches one well-formed log record line.
var lineRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| (DEBUG|INFO|WARN|ERROR): `)

// ReadLogLines reads the log file at path and checks its shape as
// CheckLogText does, returning the lines without their newlines. A file that
// cannot be read fails the test at once (t.Fatalf); a shape problem is
// reported with t.Errorf and the test goes on.
func ReadLogLines(t testing.TB, path string, allowTorn bool) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading log: %v", err)
	}
	return CheckLogText(t, path, data, allowTorn)
}

// RecordTexts reads the log file at path as ReadLogLines does and returns
// each record's first line without its "<time> | " prefix, leaving out the
// tab-continued stack lines.
func RecordTexts(t testing.TB, path string) []string {
	t.Helper()
	var out []string
	for _, l := range ReadLogLines(t, path, false) {
		if strings.HasPrefix(l, "\t") {
			continue
		}
		out = append(out, stampRE.ReplaceAllString(l, ""))
	}
	return out
}

// stampRE matches the "<time> | " that starts a record line.
var stampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| `)

// CheckLogText checks the shape of data, the contents of the log file at
// path (used only in messages): valid UTF-8, no CR, every line a record head
// or a tab-continued stack line, no control character but the tabs that start
// a continuation. allowTorn lets the last line lack its newline (a record
// being written when the writer died). Each problem is reported with t.Errorf,
// and the test goes on. It returns the lines without their newlines, or nil
// for empty data.
func CheckLogText(t testing.TB, path string, data []byte, allowTorn bool) []string {
	t.Helper()
	if !utf8.Valid(data) {
		t.Errorf("%s is not valid UTF-8", filepath.Base(path))
	}
	if len(data) == 0 {
		return nil
	}
	text := string(data)
	torn := !strings.HasSuffix(text, "\n")
	if torn && !allowTorn {
		t.Errorf("%s does not end with a newline: last bytes %q", filepath.Base(path), tail(text, 80))
	}
	text = strings.TrimSuffix(text, "\n")
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if torn && i == len(lines)-1 {
			continue
		}
		if err := checkLogLine(line); err != nil {
			t.Errorf("%s line %d: %v: %q", filepath.Base(path), i+1, err, head(line, 200))
		}
	}
	return lines
}

func checkLogLine(line string) error {
	body := line
	if strings.HasPrefix(line, "\t") {
		body = strings.TrimLeft(line, "\t")
	} else if !lineRE.MatchString(line) {
		return fmt.Errorf("not a record")
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("control byte %#x at %d", c, i)
		}
		if c == '\t' && !strings.HasPrefix(line, "\t") {
			return fmt.Errorf("tab in a record line")
		}
	}
	for _, r := range body {
		if r >= 0x80 && r <= 0x9f || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("line-breaking rune %U", r)
		}
	}
	return nil
}

func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
