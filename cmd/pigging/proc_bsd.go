//go:build unix && !linux

package main

import "syscall"

// setDeathSignal does nothing where there is no parent-death signal: the
// lock the command inherits (inheritLock) still keeps a second run off.
func setDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) {}

// canSeeStops says that processStopped does not work here: there is no
// /proc to read a process's state from.
const canSeeStops = false

// processStopped reports false: see canSeeStops.
func processStopped(pid int) bool { return false }

// groupSize reports false: processes cannot be counted by group here, only
// found (groupLeft).
func groupSize(pgid int) (int, bool) { return 0, false }
