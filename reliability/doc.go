// Package reliability holds the tests that prove pigging's promises of
// reliability, with real files, real OS locks and, where the behaviour is
// between processes, real child processes (its tests re-run their own
// binary):
//
//   - bad input, to a Tracker (paths, arguments, lifecycle misuse, corrupt
//     or odd lock files) and to the middleware wrappers, gets a clear error
//     and leaves every file as it was;
//   - many goroutines logging at once lose, duplicate and interleave no
//     record, and hostile content stays one record per valid UTF-8 line;
//   - a run of a million records keeps the heap flat;
//   - the hardening cases (typed nils and panicking values, a closed
//     stdout, a lock file replaced or deleted under a live run, a full
//     disk, FIFOs, hard links and foreign files, races between
//     LogException and Stop) never crash, hang, lose a failure or let two
//     runs in;
//   - a job run with pigging.Run and stopped by a signal ends as
//     cancelled, and a job whose trace exporter (set up by otelpig) cannot
//     reach its collector completes.
//
// It has no API. The guarantees it proves are listed in docs/guarantees.md;
// the helpers it shares with pigging's own tests are in internal/pigtest
// and internal/proctest.
package reliability
