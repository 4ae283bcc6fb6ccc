//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/pigging-go/pigging/pigging"
)

// sysProcAttr starts the command in a process group of its own, so that a
// signal reaches it and every process it starts, and a terminal's Ctrl-C
// reaches pigging alone, which forwards it. Where the system allows
// (Linux), the command gets SIGTERM when pigging dies, even by SIGKILL:
// the thread that starts the command must then live as long as it (see
// startAndWait).
func sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(attr, syscall.SIGTERM)
	return attr
}

// inheritLock gives the command a descriptor of the lock pigging holds
// (its descriptor 3), so that the lock stays held as long as the command,
// or a process it started, lives: a pigging killed by SIGKILL leaves no
// free lock behind while its command runs on. It returns the file to
// close once the command has started.
func inheritLock(cmd *exec.Cmd, t *pigging.Tracker) (*os.File, error) {
	f, err := t.LockFile()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	return f, nil
}

// notifySignals starts catching SIGINT, SIGTERM, SIGHUP (a terminal or
// SSH session that closed: the command, in a group of its own, does not
// get it) and SIGQUIT, to forward them, and returns them on a channel,
// with the function that stops catching them.
//
// It also catches SIGPIPE, so that a reader of pigging's stdout or stderr
// that goes away (pigging run ... | head) makes the passing through fail
// with EPIPE instead of killing pigging with the run still holding its lock.
// Caught signals are reset for the command when it starts, so the command
// still gets SIGPIPE as usual.
func notifySignals() (<-chan os.Signal, func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	return sigs, func() {
		signal.Stop(sigs)
		signal.Stop(pipe)
	}
}

// terminate sends sig, or SIGTERM when sig is nil, to the command's
// process group, then SIGCONT: a process stopped (by SIGTTIN when it read
// the terminal, say) acts on a signal only once it is continued.
func terminate(cmd *exec.Cmd, sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		s = syscall.SIGTERM
	}
	err := signalGroup(cmd, s)
	if s != syscall.SIGCONT && s != syscall.SIGKILL {
		err = errors.Join(err, signalGroup(cmd, syscall.SIGCONT))
	}
	return err
}

// commandStopped reports whether the command itself is stopped, where the
// system lets pigging see it (canSeeStops).
func commandStopped(cmd *exec.Cmd) bool { return processStopped(cmd.Process.Pid) }

// groupLeft returns how many processes are alive in the command's process
// group, after the command exited, and whether there are any. Where they
// cannot be counted n is -1.
func groupLeft(cmd *exec.Cmd) (n int, alive bool) {
	pgid := cmd.Process.Pid
	n, counted := groupSize(pgid)
	if counted && n > 0 {
		return n, true
	}
	// Signal 0 checks that the group exists; EPERM means it does. It is
	// asked even when the count says none: a count read from /proc while
	// processes come and go is a hint, the kernel's answer is not.
	// A group the count finds empty may hold only zombies that wait to
	// be reaped: they are given a moment before the kernel is believed.
	for try := 0; ; try++ {
		err := syscall.Kill(-pgid, 0)
		if err != nil && !errors.Is(err, syscall.EPERM) {
			return 0, false
		}
		if !counted || try == 2 {
			return -1, true
		}
		time.Sleep(20 * time.Millisecond)
		if n, _ = groupSize(pgid); n > 0 {
			return n, true
		}
	}
}

// kill kills the command's process group with SIGKILL.
func kill(cmd *exec.Cmd) error {
	return signalGroup(cmd, syscall.SIGKILL)
}

// signalGroup sends s to the process group the command leads. A group
// that no longer exists is not an error: everything in it has exited.
func signalGroup(cmd *exec.Cmd, s syscall.Signal) error {
	err := syscall.Kill(-cmd.Process.Pid, s)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// exitStatus returns the exit status pigging passes on for a command that
// ended as ps says: its exit code, or 128+N when signal N killed it, with
// the signal's name ("SIGKILL") in that case.
func exitStatus(ps *os.ProcessState) (int, string) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), signalName(ws.Signal())
	}
	return ps.ExitCode(), ""
}

// signalNames are the names of the signals that end jobs.
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS",
	syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL", syscall.SIGSEGV: "SIGSEGV",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2", syscall.SIGXCPU: "SIGXCPU",
	syscall.SIGXFSZ: "SIGXFSZ",
}

// signalName returns the conventional name of sig ("SIGTERM"), or
// "signal N" for one without a name here.
func signalName(sig os.Signal) string {
	if s, ok := sig.(syscall.Signal); ok {
		if name, ok := signalNames[s]; ok {
			return name
		}
		return fmt.Sprintf("signal %d", int(s))
	}
	return sig.String()
}
