package main

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// setDeathSignal makes the command get sig when the thread that started it
// exits: Linux's PR_SET_PDEATHSIG.
func setDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) {
	attr.Pdeathsig = sig
}

// canSeeStops says that processStopped works here.
const canSeeStops = true

// procStat returns the state and process group of process pid, from
// /proc/PID/stat.
func procStat(pid string) (state byte, pgrp int, ok bool) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(data[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	pgrp, err = strconv.Atoi(string(f[2]))
	return f[0][0], pgrp, err == nil
}

// processStopped reports whether process pid is stopped: by SIGTTIN or
// SIGTTOU, when it read from or wrote to a terminal outside the
// foreground, or by SIGSTOP or SIGTSTP.
func processStopped(pid int) bool {
	state, _, ok := procStat(strconv.Itoa(pid))
	return ok && (state == 'T' || state == 't')
}

// groupSize returns how many processes of process group pgid are alive
// (zombies, which only wait to be reaped, not counted), and true: Linux
// can count them.
func groupSize(pgid int) (int, bool) {
	d, err := os.Open("/proc")
	if err != nil {
		return 0, false
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, false
	}
	n := 0
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		if state, pgrp, ok := procStat(name); ok && pgrp == pgid && state != 'Z' && state != 'X' {
			n++
		}
	}
	return n, true
}
