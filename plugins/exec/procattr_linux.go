package exec

import (
	osexec "os/exec"
	"syscall"
)

// setProcessGroup runs the command in its own process group, kills the whole
// group on cancellation, and asks the kernel to kill it if the agent dies.
func setProcessGroup(cmd *osexec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
