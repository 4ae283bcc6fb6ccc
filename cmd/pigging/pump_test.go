package main

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// record is one record a pump logged.
type record struct {
	msg     string
	partial bool
}

// recorder collects what a pump logs.
type recorder struct {
	stream string
	recs   []record
}

func (r *recorder) log(msg string, args ...any) {
	rec := record{msg: msg}
	switch {
	case len(args) == 2 && args[0] == "stream" && args[1] == r.stream:
	case len(args) == 4 && args[0] == "stream" && args[1] == r.stream && args[2] == "partial" && args[3] == true:
		rec.partial = true
	default:
		panic("unexpected record arguments")
	}
	r.recs = append(r.recs, rec)
}

// join rebuilds the bytes the records came from: each whole record ends a
// line, a partial one goes on in the next.
func join(recs []record) string {
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(r.msg)
		if !r.partial {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// chunkReader returns its data in reads of at most n bytes.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	m := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[m:]
	return m, nil
}

// pumpAll runs data through a new pump, by ReadFrom with reads of at most
// chunk bytes, or by Writes of chunk bytes then Flush, and returns the
// records and the bytes passed through.
func pumpAll(t *testing.T, data []byte, chunk int, viaWrite bool) ([]record, []byte) {
	t.Helper()
	rec := &recorder{stream: "stdout"}
	var pass bytes.Buffer
	p := newPump("stdout", rec.log, &pass)
	if viaWrite {
		for b := data; len(b) > 0; {
			n := min(chunk, len(b))
			if m, err := p.Write(b[:n]); m != n || err != nil {
				t.Fatalf("Write = %d, %v; want %d, nil", m, err, n)
			}
			b = b[n:]
		}
		p.Flush()
	} else {
		n, err := p.ReadFrom(&chunkReader{data: data, n: chunk})
		if n != int64(len(data)) || err != nil {
			t.Fatalf("ReadFrom = %d, %v; want %d, nil", n, err, len(data))
		}
	}
	return rec.recs, pass.Bytes()
}

func TestPumpLines(t *testing.T) {
	long := strings.Repeat("x", maxLine)
	tests := []struct {
		name string
		in   string
		want []record
	}{
		{"empty", "", nil},
		{"one line", "hello\n", []record{{msg: "hello"}}},
		{"empty lines", "\n\na\n\n", []record{{}, {}, {msg: "a"}, {}}},
		{"no final newline", "a\nb", []record{{msg: "a"}, {msg: "b"}}},
		{"carriage return kept", "a\r\n", []record{{msg: "a\r"}}},
		{"exactly maxLine", long + "\n", []record{{msg: long}}},
		{"maxLine plus one", long + "y\n", []record{{msg: long, partial: true}, {msg: "y"}}},
		{"two pieces exactly", long + long + "\nz\n", []record{{msg: long, partial: true}, {msg: long}, {msg: "z"}}},
		{"many lines", strings.Repeat("ab\n", 1000), slices.Repeat([]record{{msg: "ab"}}, 1000)},
		{"long line at the end", "a\n" + long + "yz", []record{{msg: "a"}, {msg: long, partial: true}, {msg: "yz"}}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 7, 4096, maxLine + 1, 1 << 20} {
			for _, viaWrite := range []bool{false, true} {
				recs, pass := pumpAll(t, []byte(tt.in), chunk, viaWrite)
				if string(pass) != tt.in {
					t.Errorf("%s (chunk %d, write %v): passed through %q, want %q", tt.name, chunk, viaWrite, abbrev(string(pass)), abbrev(tt.in))
				}
				if !equalRecords(recs, tt.want) {
					t.Errorf("%s (chunk %d, write %v): records %v, want %v", tt.name, chunk, viaWrite, abbrevRecs(recs), abbrevRecs(tt.want))
				}
			}
		}
	}
}

// TestPumpSplitsBetweenCharacters checks that a long line of 3-byte
// characters is cut before a character, never inside one, and that the
// pieces join back into the line.
func TestPumpSplitsBetweenCharacters(t *testing.T) {
	line := strings.Repeat("€", 3*maxLine/3+1000) // 3 bytes each: 64 KiB is not a multiple
	recs, _ := pumpAll(t, []byte(line+"\n"), 4096, false)
	if len(recs) < 2 {
		t.Fatalf("got %d records, want the line split", len(recs))
	}
	for i, r := range recs {
		if len(r.msg) > maxLine {
			t.Errorf("record %d has %d bytes, more than %d", i, len(r.msg), maxLine)
		}
		if !utf8.ValidString(r.msg) {
			t.Errorf("record %d is not valid UTF-8: cut inside a character", i)
		}
		if r.partial != (i < len(recs)-1) {
			t.Errorf("record %d: partial=%v", i, r.partial)
		}
	}
	if got := join(recs); got != line+"\n" {
		t.Errorf("records do not join back into the line (%d bytes, want %d)", len(got), len(line)+1)
	}
}

// TestPumpRandom feeds random bytes, with newlines and long runs without
// them, in random chunk sizes, and checks that nothing is lost or moved.
func TestPumpRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		var data []byte
		for len(data) < 300<<10 {
			n := rng.IntN(3 * maxLine / (1 + rng.IntN(64)))
			for range n {
				data = append(data, byte(rng.IntN(256)))
			}
			data = append(data, '\n')
		}
		data = data[:len(data)-rng.IntN(2)] // sometimes no final newline
		chunk := 1 + rng.IntN(100<<10)
		recs, pass := pumpAll(t, data, chunk, round%2 == 0)
		if !bytes.Equal(pass, data) {
			t.Fatalf("round %d: passed-through bytes differ from the input", round)
		}
		want := string(data)
		if !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if got := join(recs); got != want {
			t.Fatalf("round %d: records do not join back into the input (%d bytes, want %d)", round, len(got), len(want))
		}
		for i, r := range recs {
			if len(r.msg) > maxLine || strings.Contains(r.msg, "\n") {
				t.Fatalf("round %d: record %d has %d bytes or a newline", round, i, len(r.msg))
			}
		}
	}
}

// failWriter fails every write.
type failWriter struct{ writes int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.writes++
	return 0, errors.New("broken pipe")
}

// TestPumpPassThroughFails checks that a terminal that has gone makes the
// pump stop passing through, once, and go on logging every line.
func TestPumpPassThroughFails(t *testing.T) {
	rec := &recorder{stream: "stderr"}
	fw := &failWriter{}
	p := newPump("stderr", rec.log, fw)
	in := "a\nb\nc\n"
	if _, err := p.ReadFrom(&chunkReader{data: []byte(in), n: 2}); err != nil {
		t.Fatal(err)
	}
	if fw.writes != 1 {
		t.Errorf("pass-through tried %d times after failing, want 1", fw.writes)
	}
	if p.passErr == nil {
		t.Error("passErr is nil after the pass-through failed")
	}
	if got := join(rec.recs); got != in {
		t.Errorf("records %q, want %q", got, in)
	}
}

// errReader returns data, then err.
type errReader struct {
	data []byte
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

// TestPumpReadError checks that a read error (the pipe closed under the
// pump) still logs the unfinished line, and is returned.
func TestPumpReadError(t *testing.T) {
	rec := &recorder{stream: "stdout"}
	p := newPump("stdout", rec.log, nil)
	boom := errors.New("file already closed")
	n, err := p.ReadFrom(&errReader{data: []byte("a\nunfinished"), err: boom})
	if n != 12 || !errors.Is(err, boom) {
		t.Errorf("ReadFrom = %d, %v; want 12, %v", n, err, boom)
	}
	if got := join(rec.recs); got != "a\nunfinished\n" {
		t.Errorf("records %q", got)
	}
}

func TestSplitPoint(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"ab\xe2\x82\xac", 5},     // ends with a whole €
		{"ab\xe2\x82", 2},         // € cut after two bytes
		{"ab\xe2", 2},             // € cut after one byte
		{"ab\xf0\x9f\x98", 2},     // 4-byte character cut after three
		{"ab\x82\x82\x82", 5},     // stray continuation bytes: invalid anyway
		{"\xe2\x82", 2},           // nothing before the character: keep it all
		{"ab\xc3\xa9\xe2\x82", 4}, // é, then a cut €
	}
	for _, tt := range tests {
		if got := splitPoint([]byte(tt.in)); got != tt.want {
			t.Errorf("splitPoint(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func equalRecords(a, b []record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:20] + "..." + s[len(s)-20:]
	}
	return s
}

func abbrevRecs(recs []record) []record {
	out := make([]record, len(recs))
	for i, r := range recs {
		out[i] = record{msg: abbrev(r.msg), partial: r.partial}
	}
	return out
}
