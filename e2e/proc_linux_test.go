package e2e

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts cmd in a process group of its own, so stopping it
// reaches any child it starts, and has the kernel kill it if the test binary
// dies first (a go test timeout runs no Cleanup).
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group that ownProcessGroup made.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
