package pigging

import (
	"context"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/attribute"
)

// handler is the slog.Handler behind Tracker.Logger. It formats records
// as the Tracker does and adds them as log events to the span in the
// record's ctx, or to the run span.
type handler struct {
	t     *Tracker
	text  []byte               // " k=v" of the attributes from WithAttrs
	kvs   []attribute.KeyValue // the same attributes for span events
	group string               // dotted prefix for the record's attributes
}

var _ slog.Handler = (*handler)(nil)

// Enabled reports whether level, mapped down to DEBUG, INFO, WARN or ERROR,
// is at or above the Tracker's minimum level.
func (h *handler) Enabled(_ context.Context, level slog.Level) bool {
	return h.t.enabled(levelOf(level).level)
}

// Handle writes the record. A zero record time is left out of the line.
// Outside a run it writes the record to stderr and returns ErrNotStarted or
// ErrStopped.
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	// The record's attributes are collected on the stack, as in Tracker's
	// logging methods.
	var arr [stackAttrs]slog.Attr
	attrs := arr[:0]
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	return h.t.emit(&record{ctx: ctx, time: r.Time, level: levelOf(r.Level).level, msg: r.Message, event: true}, fields{h: h, attrs: attrs})
}

// WithAttrs returns a handler whose records all carry attrs.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.text = slices.Clip(h.text)
	h2.kvs = slices.Clip(h.kvs)
	for _, a := range attrs {
		h2.text = appendAttr(h2.text, &h2.kvs, h.group, a)
	}
	return &h2
}

// WithGroup returns a handler that puts the record's attributes under name,
// written as dotted keys (name.key=value).
func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}
