package pigging_test

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pigging-go/pigging/internal/logfmt"
)

// unitSanitize is what a value reads back as once written: every invalid
// UTF-8 byte replaced by U+FFFD.
func unitSanitize(s string) string {
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

// FuzzLogMessage logs any message, key and value through a real Tracker
// and checks that the log gains exactly one record, on one line, valid
// UTF-8, from which the key and the value read back.
func FuzzLogMessage(f *testing.F) {
	for _, s := range [][3]string{
		{"hello", "k", "v"},
		{"a\nb", "key with space", "a\r\nb"},
		{"\x1b[31mred", "=", `"quoted" \ value`},
		{"\x00\xff\xfe", "\u2028", "\u0085"},
		{"", "", ""},
		{"ok\n2026-01-01 00:00:00.000 | ERROR: forged", "k", "\n\tgoroutine 1 [running]:"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	e := newUnitEnv(f)
	tr, _ := e.start(f)
	file, err := os.Open(e.log)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { file.Close() })
	st, err := file.Stat()
	if err != nil {
		f.Fatal(err)
	}
	offset := st.Size() // past the header
	f.Fuzz(func(t *testing.T, msg, key, value string) {
		if key == "" {
			key = "k" // slog drops an empty key with an empty value
		}
		tr.Info(msg, key, value)
		st, err := file.Stat()
		if err != nil {
			t.Fatal(err)
		}
		added := make([]byte, st.Size()-offset)
		if _, err := file.ReadAt(added, offset); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		offset = st.Size()
		if bytes.Count(added, []byte("\n")) != 1 || !bytes.HasSuffix(added, []byte("\n")) {
			t.Fatalf("Info(%q, %q, %q) added %q: want exactly one line", msg, key, value, added)
		}
		line := string(added[:len(added)-1])
		if !utf8.ValidString(line) || strings.ContainsAny(line, "\r\u2028\u2029\u0085") {
			t.Fatalf("Info(%q, %q, %q) wrote %q: not one clean UTF-8 line", msg, key, value, line)
		}
		m := unitLineRE.FindStringSubmatch(line)
		if m == nil || m[2] != "INFO" {
			t.Fatalf("Info(%q, ...) wrote %q, which does not parse as an INFO record", msg, line)
		}
		// The message as logfmt.AppendText writes it (its own tests pin
		// that down), then " key=value".
		text := string(logfmt.AppendText(nil, msg))
		rest, ok := strings.CutPrefix(m[3], text+" ")
		if !ok {
			t.Fatalf("record %q does not start with the message %q", m[3], text)
		}
		gotKey, n := unitFuzzToken(t, rest, '=')
		if gotKey != unitSanitize(key) {
			t.Fatalf("key %q read back as %q from %q", key, gotKey, rest)
		}
		rest = rest[n:]
		if !strings.HasPrefix(rest, "=") {
			t.Fatalf("no '=' after the key in %q", rest)
		}
		gotValue, n := unitFuzzToken(t, rest[1:], 0)
		if gotValue != unitSanitize(value) || n != len(rest)-1 {
			t.Fatalf("value %q read back as %q from %q", value, gotValue, rest[1:])
		}
	})
}

// unitFuzzToken reads a key or value at the start of s: a Go quoted string,
// or else everything up to end (0: to the end of s).
func unitFuzzToken(t *testing.T, s string, end byte) (string, int) {
	t.Helper()
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			t.Fatalf("bad quoted token at %q: %v", s, err)
		}
		v, err := strconv.Unquote(q)
		if err != nil {
			t.Fatal(err)
		}
		return v, len(q)
	}
	if end != 0 {
		if i := strings.IndexByte(s, end); i >= 0 {
			return s[:i], i
		}
	}
	return s, len(s)
}
