package pigging_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/pigging-go/pigging/pigging"
)

// unitParseLine reads a record back into the map slogtest expects: "time"
// when the line has a timestamp, "level", "msg" (the message is one word in
// slogtest's cases), and each key=value pair, dotted keys becoming nested
// groups.
func unitParseLine(t *testing.T, line string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if ts, rest, ok := strings.Cut(line, " | "); ok && len(ts) == len("2006-01-02 15:04:05.000") {
		tm, err := time.Parse("2006-01-02 15:04:05.000", ts)
		if err != nil {
			t.Fatalf("time %q: %v", ts, err)
		}
		m[slog.TimeKey] = tm
		line = rest
	}
	level, rest, ok := strings.Cut(line, ": ")
	if !ok {
		t.Fatalf("no level in %q", line)
	}
	m[slog.LevelKey] = level
	msg, rest, _ := strings.Cut(rest, " ")
	m[slog.MessageKey] = msg
	for rest != "" {
		key, n := unitToken(t, rest, '=')
		rest = rest[n:]
		if !strings.HasPrefix(rest, "=") {
			t.Fatalf("no '=' after key %q in %q", key, line)
		}
		val, n := unitToken(t, rest[1:], ' ')
		rest = strings.TrimPrefix(rest[1+n:], " ")
		group := m
		parts := strings.Split(key, ".")
		for _, g := range parts[:len(parts)-1] {
			sub, ok := group[g].(map[string]any)
			if !ok {
				sub = map[string]any{}
				group[g] = sub
			}
			group = sub
		}
		group[parts[len(parts)-1]] = val
	}
	return m
}

// unitToken reads a logfmt key or value at the start of s: a Go quoted
// string, or the text up to end. It returns the token and its length in s.
func unitToken(t *testing.T, s string, end byte) (string, int) {
	t.Helper()
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			t.Fatalf("bad quoted token in %q: %v", s, err)
		}
		v, _ := strconv.Unquote(q)
		return v, len(q)
	}
	if i := strings.IndexByte(s, end); i >= 0 {
		return s[:i], i
	}
	return s, len(s)
}

func TestSlogHandler(t *testing.T) {
	var e *unitEnv
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		e = newUnitEnv(t)
		tr, _ := e.start(t)
		return tr.Logger().Handler()
	}, func(t *testing.T) map[string]any {
		lines := unitLines(t, e.log)
		if len(lines) != 2 {
			t.Fatalf("log has %d lines, want the header and one record:\n%s", len(lines), strings.Join(lines, "\n"))
		}
		return unitParseLine(t, lines[1])
	})
}

func TestSlogHandlerRecordTime(t *testing.T) {
	// The handler writes the record's time, not the time it is handled.
	e := newUnitEnv(t)
	tr, _ := e.start(t)
	at := time.Date(2026, 11, 27, 20, 17, 6, 999_999_999, time.FixedZone("X", -3600))
	r := slog.NewRecord(at, slog.LevelWarn, "dated", 0)
	r.AddAttrs(slog.String("k", "v"))
	if err := tr.Logger().Handler().Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	lines := unitLines(t, e.log)
	if got, want := lines[len(lines)-1], "2026-11-27 21:17:06.999 | WARN: dated k=v"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
}

func TestSlogLevelMapping(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 8, "DEBUG"},
		{slog.LevelDebug, "DEBUG"},
		{slog.LevelDebug + 3, "DEBUG"},
		{slog.LevelInfo, "INFO"},
		{slog.LevelInfo + 1, "INFO"},
		{slog.LevelWarn - 1, "INFO"},
		{slog.LevelWarn, "WARN"},
		{slog.LevelWarn + 2, "WARN"},
		{slog.LevelError - 1, "WARN"},
		{slog.LevelError, "ERROR"},
		{slog.LevelError + 4, "ERROR"},
		{slog.LevelError + 100, "ERROR"},
	}
	e := newUnitEnv(t)
	tr, _ := e.start(t, pigging.WithMinLevel(slog.LevelDebug))
	logger := tr.Logger()
	var want []string
	for _, tt := range tests {
		logger.Log(context.Background(), tt.level, "at "+tt.level.String())
		want = append(want, tt.want+": at "+tt.level.String())
	}
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), want)
	var sev []string
	for _, ev := range unitEvents(unitOnlySpan(t, e.rec, runSpanName(unitJob)), "log") {
		v, _ := unitAttr(ev.Attributes, "pigging.log.severity")
		sev = append(sev, v.AsString())
	}
	var wantSev []string
	for _, tt := range tests {
		wantSev = append(wantSev, tt.want)
	}
	unitEqualLines(t, "pigging.log.severity", sev, wantSev)
}

func TestSlogEnabled(t *testing.T) {
	tests := []struct {
		min     slog.Level
		level   slog.Level
		enabled bool
	}{
		{slog.LevelInfo, slog.LevelDebug, false},
		{slog.LevelInfo, slog.LevelInfo - 1, false},
		{slog.LevelInfo, slog.LevelInfo, true},
		{slog.LevelInfo, slog.LevelInfo + 1, true},
		{slog.LevelWarn, slog.LevelWarn - 1, false},
		{slog.LevelWarn, slog.LevelError + 8, true},
		{slog.LevelDebug, slog.LevelDebug - 4, true},
	}
	for _, tt := range tests {
		e := newUnitEnv(t)
		tr := e.tracker(t, pigging.WithMinLevel(tt.min))
		if got := tr.Logger().Enabled(context.Background(), tt.level); got != tt.enabled {
			t.Errorf("min %v: Enabled(%v) = %v, want %v", tt.min, tt.level, got, tt.enabled)
		}
	}
}

func TestSlogLoggerWithAttrsAndGroups(t *testing.T) {
	e := newUnitEnv(t)
	tr, _ := e.start(t)
	base := tr.Logger().With("job_part", "load")
	db := base.WithGroup("db").With("host", "wh 1")
	db.Info("connected", "port", 5432, slog.Group("tls", "on", true))
	base.Info("unchanged by the derived logger")
	tr.Logger().Info("the Tracker's logger is unchanged")
	if err := tr.Stop(); err != nil {
		t.Fatal(err)
	}
	unitEqualLines(t, "records", unitBetween(t, unitRecords(t, e.log)), []string{
		`INFO: connected job_part=load db.host="wh 1" db.port=5432 db.tls.on=true`,
		"INFO: unchanged by the derived logger job_part=load",
		"INFO: the Tracker's logger is unchanged",
	})
	logs := unitEvents(unitOnlySpan(t, e.rec, runSpanName(unitJob)), "log")
	unitWantAttr(t, "log", logs[0].Attributes, "job_part", "load")
	unitWantAttr(t, "log", logs[0].Attributes, "db.host", "wh 1")
	unitWantAttr(t, "log", logs[0].Attributes, "db.port", 5432)
	unitWantAttr(t, "log", logs[0].Attributes, "db.tls.on", true)
}
