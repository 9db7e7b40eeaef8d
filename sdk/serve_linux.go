package sdk

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setParentDeathSignal asks the kernel to send sig when the parent exits.
func setParentDeathSignal(sig syscall.Signal) {
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(sig), 0, 0, 0)
}
