package chaos

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the process get SIGKILL when the suite's process
// ends, so that a run killed by the test timeout leaves no server or
// worker behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
