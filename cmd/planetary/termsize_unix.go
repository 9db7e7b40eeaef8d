//go:build unix

package main

import "golang.org/x/sys/unix"

// hasSize reports whether the terminal on fd has a size: a pseudo-terminal
// whose size was never set (0 x 0) cannot show bars, which are sized to it.
func hasSize(fd uintptr) bool {
	ws, err := unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ)
	return err == nil && ws.Col > 0 && ws.Row > 0
}
