package pigging_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pigging-go/pigging/pigging"
)

var unitTotalRE = regexp.MustCompile(`^TOTAL SCRIPT TIME: (\S+)$`)

func TestLogFileFormat(t *testing.T) {
	e := newUnitEnv(t)
	before := time.Now()
	tr, _ := e.start(t)
	tr.Info("Printing hello world...")
	tr.Warn("skipped rows", "rows", 3, "stage", "clean")
	tr.Error("load warehouse failed: connection refused", "stage", "warehouse")
	if err := tr.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	elapsed := time.Since(before)

	for i, l := range unitLines(t, e.log) {
		if !unitLineRE.MatchString(l) {
			t.Errorf("line %d %q does not match %s", i+1, l, unitLineRE)
		}
	}
	recs := unitRecords(t, e.log)
	if len(recs) != 5 {
		t.Fatalf("got %d records, want 5:\n%s", len(recs), strings.Join(unitTexts(recs), "\n"))
	}
	for i, r := range recs {
		if r.time.Before(before.UTC().Truncate(time.Millisecond)) || r.time.After(time.Now().UTC()) {
			t.Errorf("record %d: time %v is not the UTC time of the run (%v .. now)", i+1, r.time, before.UTC())
		}
		if i > 0 && r.time.Before(recs[i-1].time) {
			t.Errorf("record %d: time %v goes back from %v", i+1, r.time, recs[i-1].time)
		}
	}

	span := unitOnlySpan(t, e.rec, runSpanName(unitJob))
	wantHeader := "INFO: Starting logging job=" + unitJob + " trace_id=" + span.SpanContext().TraceID().String()
	if got := unitTexts(recs)[0]; got != wantHeader {
		t.Errorf("header = %q, want %q", got, wantHeader)
	}
	if !regexp.MustCompile(` trace_id=[0-9a-f]{32}$`).MatchString(recs[0].text) {
		t.Errorf("header %q does not end with a 32-hex trace id", recs[0].text)
	}
	unitEqualLines(t, "records", unitBetween(t, recs), []string{
		"INFO: Printing hello world...",
		"WARN: skipped rows rows=3 stage=clean",
		"ERROR: load warehouse failed: connection refused stage=warehouse",
	})

	last := recs[len(recs)-1]
	m := unitTotalRE.FindStringSubmatch(last.text)
	if last.level != "INFO" || m == nil {
		t.Fatalf("last record = %q, want INFO: TOTAL SCRIPT TIME: <duration>", last.level+": "+last.text)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("TOTAL SCRIPT TIME %q does not parse: %v", m[1], err)
	}
	if d <= 0 || d > elapsed {
		t.Errorf("TOTAL SCRIPT TIME %v, want in (0, %v]", d, elapsed)
	}
	if got, want := e.out.String(), "TOTAL SCRIPT TIME: "+m[1]+"\n"; got != want {
		t.Errorf("WithOutput got %q, want %q", got, want)
	}
}

func TestHeaderWithoutTrace(t *testing.T) {
	// With a provider that does not record, there is no trace id to name.
	e := newUnitEnv(t)
	tr, err := pigging.New(e.log, e.lock, pigging.WithName("no trace"), pigging.WithOutput(e.out),
		pigging.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	recs := unitRecords(t, e.log)
	if got := unitTexts(recs)[0]; !strings.HasPrefix(got, `INFO: Starting logging job="no trace"`) {
		t.Errorf("header = %q, want the job quoted", got)
	}
}

func TestLevelNames(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug, "DEBUG"},
		{slog.LevelInfo, "INFO"},
		{slog.LevelWarn, "WARN"},
		{slog.LevelError, "ERROR"},
	}
	e := newUnitEnv(t)
	tr, _ := e.start(t, pigging.WithMinLevel(slog.LevelDebug))
	var want []string
	for _, tt := range tests {
		if err := tr.Log(tt.level, "at "+tt.level.String()); err != nil {
			t.Errorf("Log(%v): %v", tt.level, err)
		}
		want = append(want, tt.want+": at "+tt.level.String())
	}
	tr.Info("via Info")
	tr.Warn("via Warn")
	tr.Error("via Error")
	want = append(want, "INFO: via Info", "WARN: via Warn", "ERROR: via Error")
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), want)
}

// unitTextValue is a type logged through its MarshalText method.
type unitTextValue struct{ s string }

func (v unitTextValue) MarshalText() ([]byte, error) { return []byte("text:" + v.s), nil }

// unitStringer is a type logged through its String method.
type unitStringer int

func (v unitStringer) String() string { return fmt.Sprintf("stringer#%d", int(v)) }

// unitSecret is a type that resolves to another value.
type unitSecret string

func (unitSecret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

func TestKeyValues(t *testing.T) {
	at := time.Date(2026, 11, 27, 21, 17, 6, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		args []any
		want string // what follows the message
	}{
		{"none", nil, ""},
		{"int", []any{"rows", 3}, " rows=3"},
		{"negative int64", []any{"delta", int64(-42)}, " delta=-42"},
		{"uint64 max", []any{"big", uint64(math.MaxUint64)}, " big=18446744073709551615"},
		{"float", []any{"ratio", 3.25}, " ratio=3.25"},
		{"float exponent", []any{"huge", 1e21}, " huge=1e+21"},
		{"float32", []any{"f", float32(0.5)}, " f=0.5"},
		{"bool", []any{"ok", true, "retry", false}, " ok=true retry=false"},
		{"duration", []any{"took", 1500 * time.Millisecond}, " took=1.5s"},
		{"time in UTC", []any{"at", at}, " at=2026-11-27T20:17:06.123456789Z"},
		{"error", []any{"err", errors.New("connection refused")}, ` err="connection refused"`},
		{"nil", []any{"v", nil}, " v=<nil>"},
		{"string plain", []any{"stage", "clean"}, " stage=clean"},
		{"string with space", []any{"msg", "a b"}, ` msg="a b"`},
		{"string with equals", []any{"q", "a=b"}, ` q="a=b"`},
		{"string with quotes", []any{"q", `say "hi"`}, ` q="say \"hi\""`},
		{"empty string", []any{"empty", ""}, ` empty=""`},
		{"bytes", []any{"raw", []byte("abc")}, " raw=abc"},
		{"text marshaler", []any{"tm", unitTextValue{"x y"}}, ` tm="text:x y"`},
		{"stringer", []any{"s", unitStringer(7)}, " s=stringer#7"},
		{"log valuer", []any{"password", unitSecret("hunter2")}, " password=REDACTED"},
		{"odd string arg", []any{"rows", 3, "dangling"}, " rows=3 !BADKEY=dangling"},
		{"non-string key", []any{42, "rows", 3}, " !BADKEY=42 rows=3"},
		{"attr", []any{slog.Int("rows", 3), "stage", "x"}, " rows=3 stage=x"},
		{"group", []any{slog.Group("db", "host", "x", slog.Int("port", 5432))}, " db.host=x db.port=5432"},
		{"nested group", []any{slog.Group("a", slog.Group("b", "c", 1))}, " a.b.c=1"},
		{"empty group left out", []any{slog.Group("g"), "k", "v"}, " k=v"},
		{"inline group", []any{slog.Group("", "k", "v")}, " k=v"},
		{"key with space", []any{"a key", 1}, ` "a key"=1`},
	}
	e := newUnitEnv(t)
	tr, _ := e.start(t)
	var want []string
	for _, tt := range tests {
		tr.Info(tt.name, tt.args...)
		want = append(want, "INFO: "+tt.name+tt.want)
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), want)
}

// unitHostile holds text that tries to break a log: forge records, split lines,
// colour the terminal, or hide bytes.
var unitHostile = []struct {
	name, in, text, value string // input, as message text, as value
}{
	{"newline", "a\nb", `a\nb`, `"a\nb"`},
	{"forged record", "ok\n2026-01-01 00:00:00.000 | ERROR: forged", `ok\n2026-01-01 00:00:00.000 | ERROR: forged`, `"ok\n2026-01-01 00:00:00.000 | ERROR: forged"`},
	{"carriage return", "100%\rdone", `100%\rdone`, `"100%\rdone"`},
	{"crlf", "a\r\nb", `a\r\nb`, `"a\r\nb"`},
	{"tab", "a\tb", `a\tb`, `"a\tb"`},
	{"ansi", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`, `"\x1b[31mred\x1b[0m"`},
	{"nul", "a\x00b", `a\x00b`, `"a\x00b"`},
	{"invalid utf8", "a\xff\xfeb", "a\uFFFD\uFFFDb", "\"a\uFFFD\uFFFDb\""},
	{"line separator", "a\u2028b", `a\u2028b`, `"a\u2028b"`},
	{"next line", "a\u0085b", `a\u0085b`, `"a\u0085b"`},
	{"leading tab", "\tcontinued?", `\tcontinued?`, `"\tcontinued?"`},
	{"backslash", `C:\new`, `C:\new`, `C:\new`},
}

func TestEscaping(t *testing.T) {
	e := newUnitEnv(t)
	tr, _ := e.start(t)
	var want []string
	for _, h := range unitHostile {
		tr.Info(h.in, "v", h.in)
		tr.Error("value", h.in, "x")
		want = append(want, "INFO: "+h.text+" v="+h.value, "ERROR: value "+h.value+"=x") // a key is written as a value is
	}
	if err := tr.LogException(errors.New("multi\nline\x1b[2J error")); err == nil {
		t.Fatal("LogException returned nil")
	}
	want = append(want, `ERROR: multi\nline\x1b[2J error`)
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	recs := unitRecords(t, e.log) // fails on any line that is not a record
	for _, r := range recs {
		if len(r.stack) > 0 {
			t.Errorf("record %q has continuation lines %q", r.text, r.stack)
		}
	}
	unitEqualLines(t, "records", unitBetween(t, recs), want)
	if n := len(unitLines(t, e.log)); n != 2*len(unitHostile)+3 {
		t.Errorf("got %d lines, want %d: one per record", n, 2*len(unitHostile)+3)
	}
}

func TestPanicStackContinuationLines(t *testing.T) {
	e := newUnitEnv(t)
	tr, _ := e.start(t)
	perr := unitPanic(func() { panic("boom\nsecond line") })
	if got := tr.LogException(perr); got != error(perr) {
		t.Fatalf("LogException returned %v, want the same error", got)
	}
	tr.Info("after")
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	recs := unitRecords(t, e.log)
	middle := recs[1 : len(recs)-1]
	if len(middle) != 2 {
		t.Fatalf("got records %q, want the panic and one more", unitTexts(middle))
	}
	p := middle[0]
	if p.level != "ERROR" || p.text != `panic: boom\nsecond line` {
		t.Errorf("panic record = %q", p.level+": "+p.text)
	}
	if len(p.stack) < 4 {
		t.Fatalf("panic record has %d continuation lines, want the stack", len(p.stack))
	}
	if !strings.HasPrefix(p.stack[0], "goroutine ") {
		t.Errorf("first stack line = %q, want it to start with goroutine", p.stack[0])
	}
	stack := strings.Join(p.stack, "\n")
	if !strings.Contains(stack, "TestPanicStackContinuationLines") {
		t.Errorf("stack does not name the test function:\n%s", stack)
	}
	// The stack's own indented lines keep their tab after the continuation tab.
	if !strings.Contains(stack, "\n\t") {
		t.Errorf("stack lost the tabs of its file:line lines:\n%s", stack)
	}
	if middle[1].text != "after" || len(middle[1].stack) != 0 {
		t.Errorf("record after the panic = %q %q", middle[1].text, middle[1].stack)
	}
}

func TestMinLevel(t *testing.T) {
	tests := []struct {
		name string
		opts []pigging.Option
		want []string
	}{
		{"default drops debug", nil, []string{"INFO: info", "WARN: warn", "ERROR: error"}},
		{"debug", []pigging.Option{pigging.WithMinLevel(slog.LevelDebug)}, []string{"DEBUG: debug", "INFO: info", "WARN: warn", "ERROR: error"}},
		{"warn", []pigging.Option{pigging.WithMinLevel(slog.LevelWarn)}, []string{"WARN: warn", "ERROR: error"}},
		{"error", []pigging.Option{pigging.WithMinLevel(slog.LevelError)}, []string{"ERROR: error"}},
		{"level var", []pigging.Option{pigging.WithMinLevel(unitLevelVar(slog.LevelWarn))}, []string{"WARN: warn", "ERROR: error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newUnitEnv(t)
			tr, _ := e.start(t, tt.opts...)
			for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
				if err := tr.Log(l, strings.ToLower(l.String())); err != nil {
					t.Errorf("Log(%v): %v", l, err)
				}
			}
			if err := tr.Stop(); err != nil {
				t.Fatal(err)
			}
			// unitBetween fails unless Starting logging and TOTAL SCRIPT TIME
			// are there whatever the minimum.
			unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), tt.want)
		})
	}
}

func TestErrorRecordIsInTheFileAtOnce(t *testing.T) {
	e := newUnitEnv(t)
	tr, _ := e.start(t)
	tr.Error("disk is full", "free", 0)
	if s := unitReadFile(t, e.log); !strings.Contains(s, "| ERROR: disk is full free=0\n") {
		t.Errorf("log right after Error:\n%s", s)
	}
	tr.Info("plain")
	if s := unitReadFile(t, e.log); !strings.HasSuffix(s, "| INFO: plain\n") {
		t.Errorf("log right after Info:\n%s", s)
	}
	_ = tr.LogException(errors.New("load failed"))
	if s := unitReadFile(t, e.log); !strings.HasSuffix(s, "| ERROR: load failed\n") {
		t.Errorf("log right after LogException:\n%s", s)
	}
}

func TestConcurrentRecordsNeverInterleave(t *testing.T) {
	e := newUnitEnv(t)
	tr, _ := e.start(t)
	const workers, each = 8, 200
	long := strings.Repeat("x", 3000)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				tr.Info("worker", "w", w, "i", i, "pad", long)
			}
		})
	}
	wg.Wait()
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	recs := unitRecords(t, e.log)
	got := unitBetween(t, recs)
	if len(got) != workers*each {
		t.Fatalf("got %d records, want %d", len(got), workers*each)
	}
	re := regexp.MustCompile(`^INFO: worker w=\d+ i=\d+ pad=(x+)$`)
	seen := map[string]bool{}
	for _, l := range got {
		if m := re.FindStringSubmatch(l); m == nil || m[1] != long {
			t.Fatalf("torn record: %.100q", l)
		}
		seen[l[:strings.Index(l, " pad=")]] = true
	}
	if len(seen) != workers*each {
		t.Errorf("got %d distinct records, want %d", len(seen), workers*each)
	}
}

// TestInfoAgreesWithLogger checks that Tracker.Info, which reads the values
// most records carry by a shorter way, writes the same text and makes the
// same event attributes as Logger().Info, which reads every value through
// slog: within the event budget and past it.
func TestInfoAgreesWithLogger(t *testing.T) {
	values := []struct {
		name string
		args []any
	}{
		{"string", []any{"stage", "clean"}},
		{"string to quote", []any{"q", `say "hi" = a b`}},
		{"empty string", []any{"empty", ""}},
		{"hostile string", []any{"v", "ok\n2026-01-01 00:00:00.000 | ERROR: forged\x1b[31m\xff"}},
		{"int", []any{"rows", 3}},
		{"int min", []any{"n", math.MinInt}},
		{"int64 max", []any{"n", int64(math.MaxInt64)}},
		{"float", []any{"ratio", 3.25}},
		{"float exponent", []any{"huge", 1e21}},
		{"float specials", []any{"nan", math.NaN(), "inf", math.Inf(1), "ninf", math.Inf(-1), "nzero", math.Copysign(0, -1)}},
		{"bool", []any{"ok", true, "retry", false}},
		{"empty key", []any{"", 1}},
		{"key to quote", []any{"a key=", "v"}},
		{"mixed with slow kinds", []any{"rows", 3, "took", time.Second, "stage", "x", "err", errors.New("e f")}},
		{"odd", []any{"rows", 3, "dangling"}},
	}
	const budget = 2 * 16 // the first half of the records become events
	e := newUnitEnv(t)
	tr, _ := e.start(t, pigging.WithEventBudget(budget))
	for round := range 2 {
		for _, v := range values {
			msg := fmt.Sprintf("%s %d", v.name, round)
			tr.Info(msg, v.args...)
			tr.Logger().Info(msg, v.args...)
		}
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}

	lines := unitBetween(t, unitRecords(t, e.log))
	if len(lines) != 2*2*len(values) {
		t.Fatalf("got %d records, want %d", len(lines), 2*2*len(values))
	}
	for i := 0; i < len(lines); i += 2 {
		if lines[i] != lines[i+1] {
			t.Errorf("Info and Logger().Info differ:\n  Info:   %s\n  Logger: %s", lines[i], lines[i+1])
		}
	}

	events := unitEvents(unitOnlySpan(t, e.rec, runSpanName(unitJob)), "log")
	if len(events) != budget {
		t.Fatalf("got %d log events, want the budget, %d", len(events), budget)
	}
	for i := 0; i < len(events); i += 2 {
		a, b := events[i].Attributes, events[i+1].Attributes
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("event attributes differ:\n  Info:   %v\n  Logger: %v", a, b)
		}
	}
}
