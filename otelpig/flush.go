package otelpig

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// flushBound gives a job's end one bound for all its flushing: the
// ForceFlush a pigging Tracker's Stop makes and the shutdown that follows
// share the shutdown timeout, instead of waiting for a silent collector
// once in each (measured before: 10.3 s for Stop plus shutdown).
//
// The first ForceFlush of any of the three providers opens a window of the
// timeout; ForceFlush calls that start while it is open end with it at the
// latest. A ForceFlush that the window (or its own ctx) ended leaves
// its exporters cut off: their collector did not answer in time, and the
// shutdown that follows does not wait for it again, but shuts down at
// once. An exporter's successful export ends that, so a long-running
// process whose collector came back gets the whole bound at its next flush
// or shutdown; a collector that answers for one signal does not give a
// silent one a second bound.
type flushBound struct {
	timeout time.Duration

	mu  sync.Mutex
	end time.Time          // the open window's end; zero when none was opened
	cut map[*delivery]bool // exporters a ForceFlush ran out of time on, with no export since
}

// window returns ctx bounded by the flush window, opening one when none is
// open.
func (b *flushBound) window(ctx context.Context) (context.Context, context.CancelFunc) {
	b.mu.Lock()
	now := time.Now()
	if !now.Before(b.end) {
		b.end = now.Add(b.timeout)
	}
	end := b.end
	b.mu.Unlock()
	return context.WithDeadline(ctx, end)
}

// ranOut records that a ForceFlush ended before the exports of ds did.
func (b *flushBound) ranOut(ds []*delivery) {
	b.mu.Lock()
	if b.cut == nil {
		b.cut = map[*delivery]bool{}
	}
	for _, d := range ds {
		b.cut[d] = true
	}
	b.mu.Unlock()
}

// exported records an export of d that reached its destination.
func (b *flushBound) exported(d *delivery) {
	b.mu.Lock()
	delete(b.cut, d)
	b.mu.Unlock()
}

// isCut reports whether a ForceFlush ran out of time with nothing exported
// since.
func (b *flushBound) isCut() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.cut) > 0
}

// shutdownDeadline returns when the shutdown must end: at once after a cut
// flush, else timeout from now.
func (b *flushBound) shutdownDeadline() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if len(b.cut) > 0 {
		return now
	}
	return now.Add(b.timeout)
}

// forceFlush runs flush, one provider's ForceFlush, within the flush
// window. When the window or ctx ends it first, the undelivered telemetry
// of ds is reported in the error, once, naming where it was going.
func (b *flushBound) forceFlush(ctx context.Context, ds []*delivery, flush func(context.Context) error) error {
	wctx, cancel := b.window(ctx)
	defer cancel()
	err := flush(context.WithValue(wctx, inFlushKey{}, true))
	if err == nil || wctx.Err() == nil {
		return err
	}
	b.ranOut(ds)
	var errs []error
	for _, d := range ds {
		if e := d.report(err); e != nil {
			errs = append(errs, e)
		}
	}
	if errors.As(err, new(*exportError)) {
		return err // names the endpoint already; what it lost is reported now
	}
	if len(errs) == 0 {
		// Nothing left unreported: still say where the flush was going.
		for _, d := range ds {
			errs = append(errs, fmt.Errorf("otelpig: flushing %s to %s: %w", d.what, d.target, err))
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("otelpig: flush: %w", err)
	}
	return errors.Join(errs...)
}

// inFlushKey marks the context of a ForceFlush bounded by the flush
// window: an export that fails because that context ended is reported by
// the ForceFlush's error, not by its own, which the SDK may drop.
type inFlushKey struct{}

// cutByFlush reports whether err, from an export made with ctx, is the
// end of a bounded ForceFlush.
func cutByFlush(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && ctx.Value(inFlushKey{}) != nil
}

// boundedSpanProcessor flushes within the flush window.
type boundedSpanProcessor struct {
	sdktrace.SpanProcessor
	b  *flushBound
	ds []*delivery
}

func (p *boundedSpanProcessor) ForceFlush(ctx context.Context) error {
	return p.b.forceFlush(ctx, p.ds, p.SpanProcessor.ForceFlush)
}

// boundedLogProcessor flushes within the flush window.
type boundedLogProcessor struct {
	sdklog.Processor
	b  *flushBound
	ds []*delivery
}

func (p *boundedLogProcessor) ForceFlush(ctx context.Context) error {
	return p.b.forceFlush(ctx, p.ds, p.Processor.ForceFlush)
}

// boundedReader flushes within the flush window. Embedding the interface
// keeps the Reader's unexported methods, which the meter provider calls.
type boundedReader struct {
	sdkmetric.Reader
	b  *flushBound
	ds []*delivery
}

// newBoundedReader wraps r, whose deliveries are ds.
func newBoundedReader(r sdkmetric.Reader, b *flushBound, ds ...*delivery) *boundedReader {
	return &boundedReader{Reader: r, b: b, ds: ds}
}

// ForceFlush flushes the reader, when it can be flushed (a periodic
// reader), within the flush window.
func (r *boundedReader) ForceFlush(ctx context.Context) error {
	f, ok := r.Reader.(interface{ ForceFlush(context.Context) error })
	if !ok {
		return nil
	}
	return r.b.forceFlush(ctx, r.ds, f.ForceFlush)
}
