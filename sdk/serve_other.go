//go:build !linux

package sdk

import "syscall"

// setParentDeathSignal is a no-op here; the parent pid watch covers it.
func setParentDeathSignal(syscall.Signal) {}
