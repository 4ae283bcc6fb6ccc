//go:build windows

package main

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/pigging-go/pigging/pigging"
)

// sysProcAttr returns nil: Windows has no process groups that pigging could
// signal, and a console Ctrl-C reaches the command directly.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// inheritLock does nothing on Windows, where a lock belongs to the handle
// that took it: the command cannot keep it held.
func inheritLock(cmd *exec.Cmd, t *pigging.Tracker) (*os.File, error) { return nil, nil }

// notifySignals starts catching Ctrl-C (os.Interrupt) and SIGTERM (sent by
// Go programs and some service managers) and returns them on a channel,
// with the function that stops catching them.
func notifySignals() (<-chan os.Signal, func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	return sigs, func() { signal.Stop(sigs) }
}

// terminate does nothing on Windows, where a process cannot be sent a
// signal: the command gets the console's Ctrl-C itself, and kill ends it
// after the grace period.
func terminate(cmd *exec.Cmd, sig os.Signal) error { return nil }

// kill terminates the command (TerminateProcess). Processes it started are
// not stopped.
func kill(cmd *exec.Cmd) error {
	err := cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// exitStatus returns the command's exit code; Windows has no signals to
// report.
func exitStatus(ps *os.ProcessState) (int, string) { return ps.ExitCode(), "" }

// signalName returns the signal's description.
func signalName(sig os.Signal) string { return sig.String() }

// canSeeStops is false: Windows processes are not stopped by signals.
const canSeeStops = false

// commandStopped reports false: see canSeeStops.
func commandStopped(cmd *exec.Cmd) bool { return false }

// groupLeft reports none: without process groups pigging cannot find the
// processes the command started.
func groupLeft(cmd *exec.Cmd) (n int, alive bool) { return 0, false }
