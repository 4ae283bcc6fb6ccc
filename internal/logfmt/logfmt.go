// Package logfmt formats pigging's log records: one line per record, a UTC
// millisecond timestamp, the level, the message, then logfmt key=value pairs.
//
// Every function appends to a caller-owned buffer and allocates nothing, so
// the Tracker can format a record into a reused buffer and hand it to the
// kernel with a single write(2).
package logfmt

import (
	"time"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// TimeLayout is the layout of the timestamp at the start of each line.
const TimeLayout = "2006-01-02 15:04:05.000"

// AppendTime appends t in UTC as "2006-01-02 15:04:05.000". Milliseconds are
// truncated, not rounded.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = appendInt(b, year, 4)
	b = append(b, '-')
	b = appendInt(b, int(month), 2)
	b = append(b, '-')
	b = appendInt(b, day, 2)
	b = append(b, ' ')
	b = appendInt(b, hour, 2)
	b = append(b, ':')
	b = appendInt(b, minute, 2)
	b = append(b, ':')
	b = appendInt(b, sec, 2)
	b = append(b, '.')
	return appendInt(b, t.Nanosecond()/1e6, 3)
}

// appendInt appends n zero-padded to width digits (n must not be negative).
func appendInt(b []byte, n, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for n >= 10 || width > 1 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	tmp[i] = byte('0' + n)
	return append(b, tmp[i:]...)
}

// AppendText appends s with every control character escaped as in a Go
// string literal (\n, \r, \t, \x1b, \u2028 ...) and every invalid UTF-8 byte
// replaced by U+FFFD, so that s can never end or split a line. Other
// characters, including backslashes and quotes, are written as they are.
func AppendText(b []byte, s string) []byte {
	return appendEscaped(b, s, &plainText)
}

// plainText and plainQuoted tell the ASCII bytes written as they are: in
// text, every printable byte; in a quoted value, every printable byte but
// the quote and the backslash, which get a backslash before them.
var plainText, plainQuoted = func() (text, quoted [utf8.RuneSelf]bool) {
	for c := 0x20; c < 0x7f; c++ {
		text[c] = true
		quoted[c] = c != '"' && c != '\\'
	}
	return text, quoted
}()

// appendEscaped appends s, escaping each ASCII byte that plain does not
// allow, each C1 control and line or paragraph separator, and replacing
// invalid UTF-8 with U+FFFD.
func appendEscaped(b []byte, s string, plain *[utf8.RuneSelf]bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			if c == '"' || c == '\\' {
				b = append(b, '\\', c)
			} else {
				b = appendEscapedByte(b, c)
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\uFFFD"...)
			i++
			start = i
			continue
		}
		if isLineBreakingRune(r) {
			b = append(b, s[start:i]...)
			b = appendUnicodeEscape(b, r)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// NeedsQuote reports whether a logfmt key or value must be written quoted:
// it is empty, or holds a space, '=', '"', a control character or invalid
// UTF-8.
func NeedsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || isLineBreakingRune(r) || r == '\u00a0' {
			return true
		}
		i += size
	}
	return false
}

// AppendValue appends s as a logfmt key or value: as it is when it needs no
// quoting, else as a double-quoted Go string with control characters escaped
// and invalid UTF-8 replaced by U+FFFD.
func AppendValue(b []byte, s string) []byte {
	if !NeedsQuote(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	b = appendEscaped(b, s, &plainQuoted)
	return append(b, '"')
}

// AppendStack appends a multi-line text (a stack trace) as continuation
// lines: each of its lines becomes "\n\t" followed by the line with control
// characters other than tabs escaped. A trailing newline in s is dropped.
func AppendStack(b []byte, s string) []byte {
	for len(s) > 0 {
		line := s
		rest := ""
		for i := 0; i < len(s); i++ {
			if s[i] == '\n' {
				line, rest = s[:i], s[i+1:]
				break
			}
		}
		b = append(b, '\n', '\t')
		for len(line) > 0 {
			j := 0
			for j < len(line) && line[j] == '\t' {
				j++
			}
			b = append(b, line[:j]...)
			line = line[j:]
			k := 0
			for k < len(line) && line[k] != '\t' {
				k++
			}
			b = AppendText(b, line[:k])
			line = line[k:]
		}
		s = rest
	}
	return b
}

func appendEscapedByte(b []byte, c byte) []byte {
	switch c {
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	case '\a':
		return append(b, '\\', 'a')
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\v':
		return append(b, '\\', 'v')
	}
	return append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
}

func appendUnicodeEscape(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// isLineBreakingRune reports the non-ASCII runes that terminals and editors
// may treat as line breaks or that are invisible controls: C1 controls,
// NEL, and the Unicode line and paragraph separators.
func isLineBreakingRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029'
}
