package pigging

import "sync/atomic"

// The run span holds its start and stop events, log events and exception
// events. The SDK's default limit is 128 events a span, past which it drops
// the oldest (start first) and copies the whole list on every add. So the
// run span takes at most runSpanSlots log and exception events, of which at
// most runSpanLogs log events: whatever the budget, at least
// runSpanSlots-runSpanLogs exceptions always fit beside start and stop.
const (
	runSpanSlots = 128 - 2
	runSpanLogs  = runSpanSlots - 16
)

// eventBudget shares out the span events of one run: log events up to the
// budget (WithEventBudget) across the run span and its stage spans, and on
// the run span a cap that keeps start, stop and exceptions under the SDK's
// event limit. Past the budget, log events are only counted. It is safe for
// concurrent use.
type eventBudget struct {
	limit    int64
	logs     atomic.Int64 // log events asked for, added or not
	runSlots atomic.Int64 // log and exception events on the run span
	runLogs  atomic.Int64 // log events on the run span, counted only when limit > runSpanLogs
	capped   atomic.Int64 // log events left out by the run span's cap
	excDrop  atomic.Int64 // exception events left out by the run span's cap
}

func newEventBudget(limit int) *eventBudget { return &eventBudget{limit: int64(limit)} }

// spent reports whether log events are only counted now.
func (b *eventBudget) spent() bool { return b.logs.Load() >= b.limit }

// count counts a log event that is not added.
func (b *eventBudget) count() { b.logs.Add(1) }

// takeLog counts a log event and reports whether it may be added, onRun
// saying whether it goes on the run span.
func (b *eventBudget) takeLog(onRun bool) bool {
	if b.logs.Add(1) > b.limit {
		return false
	}
	if onRun && !b.takeRunSlot(true) {
		b.capped.Add(1)
		return false
	}
	return true
}

// takeException reports whether an exception event may be added to the run
// span, counting it as dropped when not.
func (b *eventBudget) takeException() bool {
	if b.takeRunSlot(false) {
		return true
	}
	b.excDrop.Add(1)
	return false
}

func (b *eventBudget) takeRunSlot(log bool) bool {
	// A budget below the cap (the default) cannot add more log events than
	// the cap, and needs no count of them.
	if log && b.limit > runSpanLogs && b.runLogs.Add(1) > runSpanLogs {
		return false
	}
	return b.runSlots.Add(1) <= runSpanSlots
}

// dropped returns the log events and the exception events left out.
func (b *eventBudget) dropped() (logs, exceptions int64) {
	return max(b.logs.Load()-b.limit, 0) + b.capped.Load(), b.excDrop.Load()
}
