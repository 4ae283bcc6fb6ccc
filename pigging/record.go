package pigging

import (
	"encoding"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/logfmt"
)

const badKey = "!BADKEY"

// Sizes of the scratch space that Tracker's logging methods and the slog
// handler keep on the stack for one record. A longer line, or a record with
// more attributes, grows onto the heap.
const (
	stackLine  = 512
	stackAttrs = 8
)

// eventKVs is how many attributes a log event holds in its scratch space;
// an event with more grows them onto the heap.
const eventKVs = 16

// eventScratch is the scratch space of one log event: its attributes and
// the option list that carries them to AddEvent.
type eventScratch struct {
	arr [eventKVs]attribute.KeyValue
	// withAttrs[n] is trace.WithAttributes(arr[:n]...), made the first time
	// an event has n attributes: an option boxes its slice, so making one
	// for every event would allocate for every event.
	withAttrs [eventKVs + 1]trace.EventOption
	opts      [1]trace.EventOption
}

var eventPool = sync.Pool{New: func() any { return new(eventScratch) }}

func getEventScratch() *eventScratch { return eventPool.Get().(*eventScratch) }

// attrsOption returns the option that carries kvs, the attributes as
// appended to ev.arr[:0]: one made once when they still lie in ev.arr.
func (ev *eventScratch) attrsOption(kvs []attribute.KeyValue) trace.EventOption {
	n := len(kvs)
	if n > eventKVs {
		return trace.WithAttributes(kvs...)
	}
	if ev.withAttrs[n] == nil {
		ev.withAttrs[n] = trace.WithAttributes(ev.arr[:n]...)
	}
	return ev.withAttrs[n]
}

// head returns the attributes every log event starts with, log.severity
// and log.message, in ev's scratch space.
func (ev *eventScratch) head(level slog.Level, msg string) []attribute.KeyValue {
	return append(ev.arr[:0], keyLogSeverity.String(levelName(level)), keyLogMessage.String(msg))
}

// add adds the "log" event with kvs, the attributes as appended to the
// slice head returned, to span, and returns ev to the pool.
func (ev *eventScratch) add(span trace.Span, kvs []attribute.KeyValue) {
	// Every Span reads its options through trace.NewEventConfig, which
	// copies the attributes: the slice and the option list are free again
	// when AddEvent returns.
	ev.opts[0] = ev.attrsOption(kvs)
	span.AddEvent("log", ev.opts[:]...)
	ev.opts = [1]trace.EventOption{}
	clear(ev.arr[:min(len(kvs), eventKVs)])
	eventPool.Put(ev)
}

// levelName returns the name written to the log for one of the four levels.
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARN"
	}
	return "ERROR"
}

// standardLevel maps any slog level down to the nearest of the four.
func standardLevel(l slog.Level) slog.Level {
	switch {
	case l < slog.LevelInfo:
		return slog.LevelDebug
	case l < slog.LevelWarn:
		return slog.LevelInfo
	case l < slog.LevelError:
		return slog.LevelWarn
	}
	return slog.LevelError
}

func validLevel(l slog.Level) bool {
	return l == slog.LevelDebug || l == slog.LevelInfo || l == slog.LevelWarn || l == slog.LevelError
}

// appendArgs turns slog-style alternating keys and values into attributes,
// as slog.Logger does: a string key takes the next argument as its value,
// an slog.Attr stands alone, anything else gets the key "!BADKEY".
func appendArgs(dst []slog.Attr, args []any) []slog.Attr {
	for len(args) > 0 {
		var a slog.Attr
		a, args = nextAttr(args)
		dst = append(dst, a)
	}
	return dst
}

// appendArgsText appends " key=value" for each attribute that appendArgs
// would make of args, without collecting them.
func appendArgsText(b []byte, args []any) []byte {
	for len(args) > 0 {
		if key, ok := args[0].(string); ok && len(args) > 1 {
			if nb, ok := appendScalarText(b, key, args[1]); ok {
				b, args = nb, args[2:]
				continue
			}
		}
		var a slog.Attr
		a, args = nextAttr(args)
		b = appendAttrText(b, "", a)
	}
	return b
}

// appendArgsTextKVs is appendArgsText that also appends the attributes of
// args as span attributes to kvs, reading args once.
func appendArgsTextKVs(b []byte, kvs []attribute.KeyValue, args []any) ([]byte, []attribute.KeyValue) {
	for len(args) > 0 {
		if key, ok := args[0].(string); ok && len(args) > 1 {
			if nb, ok := appendScalarText(b, key, args[1]); ok {
				b, kvs, args = nb, append(kvs, scalarKV(key, args[1])), args[2:]
				continue
			}
		}
		var a slog.Attr
		a, args = nextAttr(args)
		b = appendAttrText(b, "", a)
		kvs = appendAttrKVs(kvs, "", a)
	}
	return b, kvs
}

// appendScalarText appends " key=value" for a value of the kinds most
// records carry (string, int, int64, float64, bool) exactly as
// appendAttrText would for slog.Any(key, v), with far less code on the way.
// It reports false, appending nothing, for any other value.
func appendScalarText(b []byte, key string, v any) ([]byte, bool) {
	switch v.(type) {
	case string, int, int64, float64, bool:
	default:
		return b, false
	}
	b = append(b, ' ')
	b = logfmt.AppendValue(b, key)
	b = append(b, '=')
	switch v := v.(type) {
	case string:
		b = logfmt.AppendValue(b, v)
	case int:
		b = strconv.AppendInt(b, int64(v), 10)
	case int64:
		b = strconv.AppendInt(b, v, 10)
	case float64:
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	case bool:
		b = strconv.AppendBool(b, v)
	}
	return b, true
}

// scalarKV returns the span attribute of a value that appendScalarText
// took, as appendAttrKVs would make it.
func scalarKV(key string, v any) attribute.KeyValue {
	switch v := v.(type) {
	case string:
		return attribute.String(key, v)
	case int:
		return attribute.Int64(key, int64(v))
	case int64:
		return attribute.Int64(key, v)
	case float64:
		return attribute.Float64(key, v)
	case bool:
		return attribute.Bool(key, v)
	}
	panic("pigging: scalarKV of a value appendScalarText does not take")
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
	b = append(b, levelName(level)...)
	b = append(b, ": "...)
	return logfmt.AppendText(b, msg)
}

// isEmptyAttr reports whether a equals slog.Attr{}, the attribute handlers
// leave out, as a.Equal(slog.Attr{}) would, only more cheaply.
func isEmptyAttr(a slog.Attr) bool {
	return a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil
}

// appendAttrText appends " key=value" for a, flattening groups into dotted
// keys under prefix. Empty attributes and empty groups are left out.
func appendAttrText(b []byte, prefix string, a slog.Attr) []byte {
	if a.Value.Kind() == slog.KindLogValuer {
		a.Value = a.Value.Resolve()
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
			b = appendAttrText(b, p, ga)
		}
		return b
	}
	b = append(b, ' ')
	if prefix == "" {
		b = logfmt.AppendValue(b, a.Key)
	} else {
		b = logfmt.AppendValue(b, prefix+a.Key)
	}
	b = append(b, '=')
	return appendValueText(b, a.Value)
}

func appendValueText(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return logfmt.AppendValue(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return logfmt.AppendValue(b, v.Duration().String())
	case slog.KindTime:
		return logfmt.AppendValue(b, v.Time().UTC().Format(time.RFC3339Nano))
	}
	return logfmt.AppendValue(b, anyText(v.Any()))
}

func anyText(x any) string {
	switch x := x.(type) {
	case nil:
		return "<nil>"
	case error:
		return x.Error()
	case encoding.TextMarshaler:
		if t, err := x.MarshalText(); err == nil {
			return string(t)
		}
	case []byte:
		return string(x)
	}
	return fmt.Sprint(x)
}

// appendAttrKVs appends a as span attributes, flattening groups into
// dotted keys under prefix.
func appendAttrKVs(dst []attribute.KeyValue, prefix string, a slog.Attr) []attribute.KeyValue {
	if a.Value.Kind() == slog.KindLogValuer {
		a.Value = a.Value.Resolve()
	}
	if isEmptyAttr(a) {
		return dst
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			dst = appendAttrKVs(dst, p, ga)
		}
		return dst
	}
	key := a.Key
	if prefix != "" {
		key = prefix + a.Key
	}
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		return append(dst, attribute.String(key, v.String()))
	case slog.KindInt64:
		return append(dst, attribute.Int64(key, v.Int64()))
	case slog.KindUint64:
		if u := v.Uint64(); u <= 1<<63-1 {
			return append(dst, attribute.Int64(key, int64(u)))
		}
		return append(dst, attribute.String(key, strconv.FormatUint(v.Uint64(), 10)))
	case slog.KindFloat64:
		return append(dst, attribute.Float64(key, v.Float64()))
	case slog.KindBool:
		return append(dst, attribute.Bool(key, v.Bool()))
	case slog.KindDuration:
		return append(dst, attribute.String(key, v.Duration().String()))
	case slog.KindTime:
		return append(dst, attribute.String(key, v.Time().UTC().Format(time.RFC3339Nano)))
	}
	return append(dst, attribute.String(key, anyText(v.Any())))
}
