// Package wallclock reads the wall clock for log records, more cheaply
// than time.Now where the platform allows.
//
// time.Now reads two clocks, the wall clock and the monotonic one, and on
// Linux switches to the system stack for each vDSO call. A log record's
// timestamp needs only the wall clock, at millisecond precision.
package wallclock
