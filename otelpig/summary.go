package otelpig

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/pigging-go/pigging/internal/errtype"
	"github.com/pigging-go/pigging/internal/semkeys"
)

// summaryAttrs are the span attributes the summary shows, in this order.
var summaryAttrs = []attribute.Key{
	semkeys.RecordsIn,
	semkeys.RecordsOut,
	semkeys.Attempts,
	semkeys.Attempt,
	semkeys.EventsDropped,
	errtype.KeyErrorType,
}

// summaryEventAttrs are event attributes the summary lifts onto the span's
// line: the run's outcome, which pigging puts on its stop event.
var summaryEventAttrs = []attribute.Key{semkeys.Status}

const (
	// summaryMaxSpans bounds the spans held while their trace's root has
	// not ended. Past it, spans are counted and left out of the tree.
	summaryMaxSpans = 4096
	// summaryMaxStatus bounds the status description shown, in runes.
	summaryMaxStatus = 120
)

// summaryExporter prints each trace as a compact tree once its root span
// (the span without a local parent) has ended: one line per span with its
// duration, key attributes, event counts and an Error status, then a line
// with the trace id. Spans may arrive in any order and batch size; those of
// a trace wait in memory, up to summaryMaxSpans in all, for their root.
//
// It is meant for a simple span processor, so the tree is printed as the
// run span ends. Each tree is one Write.
type summaryExporter struct {
	w        io.Writer
	maxSpans int // spans held at most while their trace's root has not ended

	mu      sync.Mutex
	pending map[trace.TraceID]*pendingTrace
	held    int  // spans in pending
	lost    int  // spans of traces not held at all, past the bound
	stopped bool // after Shutdown
}

// pendingTrace is what is known of a trace whose root has not ended.
type pendingTrace struct {
	spans   []sdktrace.ReadOnlySpan
	dropped int // spans left out past summaryMaxSpans
}

var _ sdktrace.SpanExporter = (*summaryExporter)(nil)

func newSummaryExporter(w io.Writer, maxSpans int) *summaryExporter {
	return &summaryExporter{w: w, maxSpans: maxSpans, pending: map[trace.TraceID]*pendingTrace{}}
}

// isRoot reports whether s has no parent in this process.
func isRoot(s sdktrace.ReadOnlySpan) bool {
	return !s.Parent().IsValid() || s.Parent().IsRemote()
}

// ExportSpans holds the spans of unfinished traces and prints the tree of
// each trace whose root is among spans. It returns the writer's error.
func (e *summaryExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if isRoot(s) {
			roots = append(roots, s)
			continue
		}
		id := s.SpanContext().TraceID()
		p := e.pending[id]
		switch {
		case p == nil && e.held >= e.maxSpans:
			e.lost++
			continue
		case p == nil:
			p = &pendingTrace{}
			e.pending[id] = p
		case e.held >= e.maxSpans:
			p.dropped++
			continue
		}
		p.spans = append(p.spans, s)
		e.held++
	}
	var buf bytes.Buffer
	for _, root := range roots {
		id := root.SpanContext().TraceID()
		p := e.pending[id]
		var spans []sdktrace.ReadOnlySpan
		dropped := 0
		if p != nil {
			spans, dropped = p.spans, p.dropped
		}
		rest := writeTree(&buf, root, spans, dropped)
		if p != nil {
			e.held -= len(p.spans) - len(rest)
			if len(rest) == 0 {
				delete(e.pending, id)
			} else {
				// Another root of the same trace (a second run joining the
				// caller's trace) may still claim them.
				p.spans, p.dropped = rest, 0
			}
		}
	}
	if buf.Len() == 0 {
		return nil
	}
	_, err := e.w.Write(buf.Bytes())
	return err
}

// Shutdown prints what is still held, spans whose root never ended, as
// trees of their own, and stops the exporter. It returns the writer's error.
func (e *summaryExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	e.stopped = true
	var buf bytes.Buffer
	for _, p := range e.pending {
		spans := p.spans
		dropped := p.dropped
		for len(spans) > 0 {
			// The top is a span whose parent is not held.
			top := 0
			for i, s := range spans {
				if !slices.ContainsFunc(spans, func(o sdktrace.ReadOnlySpan) bool {
					return o.SpanContext().SpanID() == s.Parent().SpanID()
				}) {
					top = i
					break
				}
			}
			rest := slices.Delete(slices.Clone(spans), top, top+1)
			spans = writeTree(&buf, spans[top], rest, dropped)
			dropped = 0
		}
	}
	if e.lost > 0 {
		fmt.Fprintf(&buf, "(%d spans of other traces not shown: more than %d spans waited for their trace's root)\n", e.lost, e.maxSpans)
	}
	e.pending, e.held, e.lost = nil, 0, 0
	if buf.Len() == 0 {
		return nil
	}
	_, err := e.w.Write(buf.Bytes())
	return err
}

// writeTree writes root and its descendants among spans, then the trace id
// line, and returns the spans that are not below root.
func writeTree(buf *bytes.Buffer, root sdktrace.ReadOnlySpan, spans []sdktrace.ReadOnlySpan, dropped int) []sdktrace.ReadOnlySpan {
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		children[s.Parent().SpanID()] = append(children[s.Parent().SpanID()], s)
	}
	shown := map[trace.SpanID]bool{}
	var walk func(s sdktrace.ReadOnlySpan, depth int, parentStatus string)
	walk = func(s sdktrace.ReadOnlySpan, depth int, parentStatus string) {
		id := s.SpanContext().SpanID()
		if shown[id] {
			return // a span id seen twice; never loop
		}
		shown[id] = true
		writeLine(buf, s, depth, parentStatus)
		status := ""
		if s.Status().Code == codes.Error {
			status = s.Status().Description
		}
		kids := children[id]
		slices.SortStableFunc(kids, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
		for _, k := range kids {
			walk(k, depth+1, status)
		}
	}
	walk(root, 0, "")
	if dropped > 0 {
		fmt.Fprintf(buf, "  (%d more spans not shown)\n", dropped)
	}
	fmt.Fprintf(buf, "trace_id=%s\n", root.SpanContext().TraceID())

	var rest []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if !shown[s.SpanContext().SpanID()] {
			rest = append(rest, s)
		}
	}
	return rest
}

// writeLine writes one span: indent, name, duration, key attributes,
// event counts and an Error status. The status description is left out when
// it repeats the parent's: an error that fails a stage and then the run is
// said once, on the highest line.
func writeLine(buf *bytes.Buffer, s sdktrace.ReadOnlySpan, depth int, parentStatus string) {
	for range depth {
		buf.WriteString("  ")
	}
	buf.WriteString(s.Name())
	buf.WriteString("  ")
	buf.WriteString(formatDuration(s.EndTime().Sub(s.StartTime())))

	var attrs []string
	for _, k := range summaryAttrs {
		for _, kv := range s.Attributes() {
			if kv.Key == k {
				attrs = append(attrs, string(k)+"="+kv.Value.String())
				break
			}
		}
	}
	for _, k := range summaryEventAttrs {
		for _, ev := range s.Events() {
			for _, kv := range ev.Attributes {
				if kv.Key == k {
					attrs = append(attrs, string(k)+"="+kv.Value.String())
				}
			}
		}
	}
	if len(attrs) > 0 {
		buf.WriteString("  ")
		for i, a := range attrs {
			if i > 0 {
				buf.WriteByte(' ')
			}
			buf.WriteString(a)
		}
	}

	if events := eventCounts(s); events != "" {
		buf.WriteString("  [")
		buf.WriteString(events)
		buf.WriteByte(']')
	}
	if st := s.Status(); st.Code == codes.Error {
		buf.WriteString("  status=Error")
		if st.Description != "" && st.Description != parentStatus {
			buf.WriteByte(' ')
			buf.WriteString(strconv.Quote(truncate(st.Description, summaryMaxStatus)))
		}
	}
	buf.WriteByte('\n')
}

// eventCounts lists event names in order of first appearance, with a count
// when more than one: "start log×2 stop".
func eventCounts(s sdktrace.ReadOnlySpan) string {
	var names []string
	counts := map[string]int{}
	for _, ev := range s.Events() {
		if counts[ev.Name] == 0 {
			names = append(names, ev.Name)
		}
		counts[ev.Name]++
	}
	if n := s.DroppedEvents(); n > 0 {
		names = append(names, "dropped")
		counts["dropped"] = n
	}
	var b bytes.Buffer
	for i, n := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n)
		if c := counts[n]; c > 1 || n == "dropped" {
			fmt.Fprintf(&b, "×%d", c)
		}
	}
	return b.String()
}

// formatDuration is short and fixed in precision: 42µs, 0.9ms, 11.0ms,
// 2.35s, 1m5s.
func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0ms"
	case d < 100*time.Microsecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	default:
		return d.Round(time.Second).String()
	}
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n-1 {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
