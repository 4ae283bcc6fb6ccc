package main

import "syscall"

// setDeathSignal makes the command get sig when the thread that started it
// exits: Linux's PR_SET_PDEATHSIG.
func setDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) {
	attr.Pdeathsig = sig
}
