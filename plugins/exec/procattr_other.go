//go:build !linux

package exec

import osexec "os/exec"

// setProcessGroup: elsewhere only the command itself is killed.
func setProcessGroup(*osexec.Cmd) {}
