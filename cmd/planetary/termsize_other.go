//go:build !unix

package main

// hasSize reports whether the terminal on fd has a size.
func hasSize(fd uintptr) bool { return true }
