// Package reliability holds the tests that prove pigging's promises across
// packages and real processes: a job run with pigging.Run stopped by a
// signal, and a job whose trace exporter (set up by otelpig) cannot reach
// its collector. It has no API; its tests re-run their own binary as child
// processes. The guarantees they prove are listed in the README.
package reliability
