package logfmt

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendTime(t *testing.T) {
	east := time.FixedZone("UTC+5:30", 5*3600+30*60)
	west := time.FixedZone("UTC-8", -8*3600)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"utc", time.Date(2026, 11, 27, 20, 17, 6, 123_000_000, time.UTC), "2026-11-27 20:17:06.123"},
		{"zero padding", time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC), "2026-01-02 03:04:05.006"},
		{"no fraction", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02 03:04:05.000"},
		{"truncated not rounded", time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC), "2026-01-02 03:04:05.999"},
		{"half a millisecond", time.Date(2026, 1, 2, 3, 4, 5, 1_500_000, time.UTC), "2026-01-02 03:04:05.001"},
		{"zone east converted", time.Date(2026, 1, 1, 1, 0, 0, 0, east), "2025-12-31 19:30:00.000"},
		{"zone west converted", time.Date(2026, 12, 31, 20, 0, 0, 250_000_000, west), "2027-01-01 04:00:00.250"},
		{"zero time", time.Time{}, "0001-01-01 00:00:00.000"},
		{"large year", time.Date(12345, 6, 7, 8, 9, 10, 0, time.UTC), "12345-06-07 08:09:10.000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendTime([]byte("x"), tt.in))
			if got != "x"+tt.want {
				t.Errorf("AppendTime(%v) = %q, want %q", tt.in, got, "x"+tt.want)
			}
		})
	}
}

func TestAppendTimeMatchesLayout(t *testing.T) {
	// Every millisecond of a second round-trips through TimeLayout.
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for ms := range 1000 {
		tm := base.Add(time.Duration(ms)*time.Millisecond + 999*time.Microsecond)
		got := string(AppendTime(nil, tm))
		if want := tm.Format(TimeLayout); got != want {
			t.Fatalf("AppendTime(%v) = %q, want %q", tm, got, want)
		}
		back, err := time.Parse(TimeLayout, got)
		if err != nil {
			t.Fatalf("parsing %q: %v", got, err)
		}
		if !back.Equal(tm.Truncate(time.Millisecond)) {
			t.Fatalf("parsed %q as %v, want %v", got, back, tm.Truncate(time.Millisecond))
		}
	}
}

func TestAppendText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello world", "hello world"},
		{"empty", "", ""},
		{"quotes and backslashes kept", `say "hi" C:\tmp`, `say "hi" C:\tmp`},
		{"equals kept", "a=b", "a=b"},
		{"newline", "a\nb", `a\nb`},
		{"carriage return", "a\rb", `a\rb`},
		{"crlf", "a\r\nERROR: forged", `a\r\nERROR: forged`},
		{"tab", "a\tb", `a\tb`},
		{"nul", "a\x00b", `a\x00b`},
		{"ansi escape", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"other controls", "\a\b\f\v\x01\x1f", `\a\b\f\v\x01\x1f`},
		{"del", "a\x7fb", `a\x7fb`},
		{"invalid byte", "a\xffb", "a\uFFFDb"},
		{"each invalid byte replaced", "\xc3\x28\xff", "\uFFFD(\uFFFD"},
		{"truncated rune", "ok\xe2\x82", "ok\uFFFD\uFFFD"},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"paragraph separator", "a\u2029b", `a\u2029b`},
		{"next line C1", "a\u0085b", `a\u0085b`},
		{"C1 control", "a\u009bb", `a\u009bb`},
		{"unicode kept", "héllo wörld ✓ 日本", "héllo wörld ✓ 日本"},
		{"replacement char kept", "\uFFFD", "\uFFFD"},
		{"nbsp kept", "a\u00a0b", "a\u00a0b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendText([]byte("> "), tt.in))
			if got != "> "+tt.want {
				t.Errorf("AppendText(%q) = %q, want %q", tt.in, got, "> "+tt.want)
			}
			checkText(t, tt.in, got[len("> "):])
		})
	}
}

func TestNeedsQuote(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", true},
		{"plain", false},
		{"with-dash_and.dot/slash", false},
		{"42", false},
		{"-3.5e+10", false},
		{"!BADKEY", false},
		{`back\slash`, false},
		{"héllo", false},
		{"日本", false},
		{"a b", true},
		{" lead", true},
		{"trail ", true},
		{"a=b", true},
		{"=", true},
		{`say"hi"`, true},
		{`"`, true},
		{"a\tb", true},
		{"a\nb", true},
		{"a\rb", true},
		{"\x00", true},
		{"\x1b[0m", true},
		{"\x7f", true},
		{"\xff", true},
		{"a\u2028b", true},
		{"a\u0085b", true},
		{"a\u00a0b", true},
	}
	for _, tt := range tests {
		if got := NeedsQuote(tt.in); got != tt.want {
			t.Errorf("NeedsQuote(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestAppendValue(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "warehouse", "warehouse"},
		{"number", "3", "3"},
		{"unicode", "wörld", "wörld"},
		{"backslash alone", `C:\tmp`, `C:\tmp`},
		{"empty", "", `""`},
		{"space", "connection refused", `"connection refused"`},
		{"equals", "a=b", `"a=b"`},
		{"quote", `say "hi"`, `"say \"hi\""`},
		{"quote and backslash", `"C:\tmp"`, `"\"C:\\tmp\""`},
		{"newline", "a\nb", `"a\nb"`},
		{"carriage return", "a\rb", `"a\rb"`},
		{"tab", "a\tb", `"a\tb"`},
		{"nul", "\x00", `"\x00"`},
		{"ansi", "\x1b[31m", `"\x1b[31m"`},
		{"del", "\x7f", `"\x7f"`},
		{"invalid utf8", "a\xffb", "\"a\uFFFDb\""},
		{"line separator", "a\u2028b", `"a\u2028b"`},
		{"C1 control", "\u0085", `"\u0085"`},
		{"nbsp", "a\u00a0b", "\"a\u00a0b\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendValue([]byte("k="), tt.in))
			if got != "k="+tt.want {
				t.Errorf("AppendValue(%q) = %q, want %q", tt.in, got, "k="+tt.want)
			}
			checkValue(t, tt.in, got[len("k="):])
		})
	}
}

func TestAppendStack(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"one line", "goroutine 1 [running]:", "\n\tgoroutine 1 [running]:"},
		{"trailing newline dropped", "a\nb\n", "\n\ta\n\tb"},
		{
			"go stack",
			"goroutine 1 [running]:\nmain.main()\n\t/src/main.go:12 +0x1d\n",
			"\n\tgoroutine 1 [running]:\n\tmain.main()\n\t\t/src/main.go:12 +0x1d",
		},
		{"tabs inside kept", "a\tb\t\tc", "\n\ta\tb\t\tc"},
		{"carriage return escaped", "frame\r\nnext", "\n\tframe\\r\n\tnext"},
		{"control escaped", "a\x1b[2Jb", "\n\ta\\x1b[2Jb"},
		{"invalid utf8 replaced", "a\xffb", "\n\ta\uFFFDb"},
		{"line separator escaped", "a\u2028b", "\n\ta\\u2028b"},
		{"blank line kept as continuation", "a\n\nb", "\n\ta\n\t\n\tb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendStack([]byte("ERROR: boom"), tt.in))
			if got != "ERROR: boom"+tt.want {
				t.Errorf("AppendStack(%q) = %q, want %q", tt.in, got, "ERROR: boom"+tt.want)
			}
			// Every line after the first is a continuation line.
			lines := strings.Split(got, "\n")
			for _, l := range lines[1:] {
				if !strings.HasPrefix(l, "\t") {
					t.Errorf("continuation line %q does not start with a tab", l)
				}
				if strings.ContainsRune(l, '\r') {
					t.Errorf("continuation line %q holds a carriage return", l)
				}
			}
			if !utf8.ValidString(got) {
				t.Errorf("AppendStack(%q) = %q: not valid UTF-8", tt.in, got)
			}
		})
	}
}

func TestAppendAllocatesNothing(t *testing.T) {
	buf := make([]byte, 0, 1024)
	tm := time.Now()
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendTime(buf[:0], tm)
		b = AppendText(b, "message with\nnewline and \x1b escape \xff")
		b = AppendValue(b, "value with \"quotes\"\n")
		_ = AppendStack(b, "a\n\tb\n")
	})
	if allocs != 0 {
		t.Errorf("appending into a large enough buffer allocated %v times, want 0", allocs)
	}
}

// replaceInvalid replaces each invalid UTF-8 byte of s by U+FFFD, as the
// Append functions do (strings.ToValidUTF8 would fold runs into one).
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// checkValue checks that got, the text AppendValue wrote for in, stays on
// one line, is valid UTF-8, and reads back as in (invalid bytes replaced):
// unquoted only when in needs no quoting, else as a Go quoted string.
func checkValue(t *testing.T, in, got string) {
	t.Helper()
	if strings.ContainsAny(got, "\n\r") {
		t.Fatalf("AppendValue(%q) = %q: holds a line break", in, got)
	}
	if !utf8.ValidString(got) {
		t.Fatalf("AppendValue(%q) = %q: not valid UTF-8", in, got)
	}
	if !NeedsQuote(in) {
		if got != in {
			t.Fatalf("AppendValue(%q) = %q: a value that needs no quotes must be written as it is", in, got)
		}
		if strings.ContainsAny(got, " =\"") {
			t.Fatalf("AppendValue(%q) = %q: unquoted value with a space, '=' or quote", in, got)
		}
		return
	}
	back, err := strconv.Unquote(got)
	if err != nil {
		t.Fatalf("AppendValue(%q) = %q: not a Go quoted string: %v", in, got, err)
	}
	if want := replaceInvalid(in); back != want {
		t.Fatalf("AppendValue(%q) = %q, which unquotes to %q, want %q", in, got, back, want)
	}
}

// textReference is an independent spelling of AppendText's contract: each
// invalid byte becomes U+FFFD, each C0 or C1 control character, DEL and the
// Unicode line and paragraph separators become the escape strconv.QuoteRune
// writes for them, and everything else stays as it is.
func textReference(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029':
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// checkText checks that got, the text AppendText wrote for in, stays on
// one line, is valid UTF-8, holds no control character and matches
// textReference.
func checkText(t *testing.T, in, got string) {
	t.Helper()
	if strings.ContainsAny(got, "\n\r\u2028\u2029\u0085") {
		t.Fatalf("AppendText(%q) = %q: holds a line break", in, got)
	}
	if !utf8.ValidString(got) {
		t.Fatalf("AppendText(%q) = %q: not valid UTF-8", in, got)
	}
	for _, r := range got {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			t.Fatalf("AppendText(%q) = %q: holds control character %U", in, got, r)
		}
	}
	if want := textReference(in); got != want {
		t.Fatalf("AppendText(%q) = %q, want %q", in, got, want)
	}
}

func FuzzAppendText(f *testing.F) {
	for _, s := range []string{"", "plain", "a\nb", "a\r\nb", "\x1b[31m", "\x00", "\xff\xfe", "a\u2028b", "\u0085", `"q" \ =`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkText(t, s, string(AppendText(nil, s)))
	})
}

func FuzzAppendValue(f *testing.F) {
	for _, s := range []string{"", "plain", "a b", "a=b", `"`, `\`, "a\nb", "\x1b[0m", "\xff", "a\u2028b", "\u00a0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkValue(t, s, string(AppendValue(nil, s)))
	})
}
