package pigging

import (
	"log/slog"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/logfmt"
	"github.com/pigging-go/pigging/internal/runctx"
)

const badKey = "!BADKEY"

// format appends the record's line, with f, to b, newline included. When
// kvs is not nil it also appends the attributes as span attributes to *kvs,
// reading each argument once for both.
func (rec *record) format(b []byte, kvs *[]attribute.KeyValue, f fields) []byte {
	tm := rec.time
	b = appendHead(b, tm, rec.level, rec.msg)
	group := ""
	if h := f.h; h != nil {
		b = append(b, h.text...)
		if kvs != nil {
			*kvs = append(*kvs, h.kvs...)
		}
		group = h.group
	}
	b = appendArgs(b, kvs, f.args)
	for _, a := range f.attrs {
		b = appendAttr(b, kvs, group, a)
	}
	if rec.ctx != nil {
		if st := runctx.StageFrom(rec.ctx); st != nil {
			b = append(b, " stage="...)
			b = logfmt.AppendValue(b, st.Name)
		}
	}
	if len(rec.stack) > 0 {
		b = logfmt.AppendStack(b, string(rec.stack))
	}
	return append(b, '\n')
}

// appendArgs appends " key=value" for each slog-style key/value pair in
// args, as slog.Logger reads them: a string key takes the next argument as
// its value, an slog.Attr stands alone, anything else gets the key
// "!BADKEY". When kvs is not nil the same attributes go there too.
func appendArgs(b []byte, kvs *[]attribute.KeyValue, args []any) []byte {
	for len(args) > 0 {
		var a slog.Attr
		a, args = nextAttr(args)
		b = appendAttr(b, kvs, "", a)
	}
	return b
}

// appendAttr appends " key=value" for a, flattening groups into dotted
// keys under prefix, and, when kvs is not nil, the same as span attributes.
// Empty attributes and empty groups are left out. Values are resolved and
// turned into text without ever panicking (see errtype.Text).
func appendAttr(b []byte, kvs *[]attribute.KeyValue, prefix string, a slog.Attr) []byte {
	if a.Value.Kind() == slog.KindLogValuer {
		a.Value = a.Value.Resolve() // recovers a panicking LogValue
	}
	if isEmptyAttr(a) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		group := a.Value.Group()
		if len(group) == 0 {
			return b
		}
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, ga := range group {
			b = appendAttr(b, kvs, p, ga)
		}
		return b
	}
	key := a.Key
	if prefix != "" {
		key = prefix + a.Key
	}
	b = append(b, ' ')
	b = logfmt.AppendValue(b, key)
	b = append(b, '=')
	v := a.Value
	var text string
	switch v.Kind() {
	case slog.KindString:
		text = v.String()
	case slog.KindInt64:
		if kvs != nil {
			*kvs = append(*kvs, attribute.Int64(key, v.Int64()))
		}
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		u := v.Uint64()
		if kvs != nil {
			if u <= 1<<63-1 {
				*kvs = append(*kvs, attribute.Int64(key, int64(u)))
			} else {
				*kvs = append(*kvs, attribute.String(key, strconv.FormatUint(u, 10)))
			}
		}
		return strconv.AppendUint(b, u, 10)
	case slog.KindFloat64:
		if kvs != nil {
			*kvs = append(*kvs, attribute.Float64(key, v.Float64()))
		}
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		if kvs != nil {
			*kvs = append(*kvs, attribute.Bool(key, v.Bool()))
		}
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		text = v.Duration().String()
	case slog.KindTime:
		text = v.Time().UTC().Format(time.RFC3339Nano)
	default:
		text = errtype.Text(v.Any())
	}
	if kvs != nil {
		*kvs = append(*kvs, attribute.String(key, text))
	}
	return logfmt.AppendValue(b, text)
}

// level is one of the four levels pigging writes, as the log file, the
// span events and the Logs API name it.
type level struct {
	level    slog.Level
	name     string
	severity otellog.Severity
}

var levels = [...]level{
	{slog.LevelDebug, "DEBUG", otellog.SeverityDebug},
	{slog.LevelInfo, "INFO", otellog.SeverityInfo},
	{slog.LevelWarn, "WARN", otellog.SeverityWarn},
	{slog.LevelError, "ERROR", otellog.SeverityError},
}

// levelOf maps any slog level down to the nearest of the four: the one
// level mapping of the package.
func levelOf(l slog.Level) *level {
	switch {
	case l < slog.LevelInfo:
		return &levels[0]
	case l < slog.LevelWarn:
		return &levels[1]
	case l < slog.LevelError:
		return &levels[2]
	}
	return &levels[3]
}

func validLevel(l slog.Level) bool {
	return l == slog.LevelDebug || l == slog.LevelInfo || l == slog.LevelWarn || l == slog.LevelError
}

// nextAttr returns the attribute at the start of args (len(args) > 0) and
// the arguments after it.
func nextAttr(args []any) (slog.Attr, []any) {
	switch x := args[0].(type) {
	case string:
		if len(args) == 1 {
			return slog.String(badKey, x), nil
		}
		return slog.Any(x, args[1]), args[2:]
	case slog.Attr:
		return x, args[1:]
	}
	return slog.Any(badKey, args[0]), args[1:]
}

// appendHead appends "<time> | LEVEL: message". A zero time is left out,
// as slog handlers must do.
func appendHead(b []byte, t time.Time, level slog.Level, msg string) []byte {
	if !t.IsZero() {
		b = logfmt.AppendTime(b, t)
		b = append(b, " | "...)
	}
	b = append(b, levelOf(level).name...)
	b = append(b, ": "...)
	return logfmt.AppendText(b, msg)
}

// isEmptyAttr reports whether a equals slog.Attr{}, the attribute handlers
// leave out, as a.Equal(slog.Attr{}) would, only more cheaply.
func isEmptyAttr(a slog.Attr) bool {
	return a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil
}
