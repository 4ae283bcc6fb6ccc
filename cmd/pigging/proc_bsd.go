//go:build unix && !linux

package main

import "syscall"

// setDeathSignal does nothing where there is no parent-death signal: the
// lock the command inherits (inheritLock) still keeps a second run off.
func setDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) {}
