package exec

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrInterpreter is an allow list entry naming a shell, an interpreter or
// a program that runs another program from its arguments: allowing it
// would let any job run any code.
var ErrInterpreter = errors.New("runs any code it is given; remove it from allow or set allow_interpreters = true")

// interpreters are the base names refused in allow unless the agent config
// sets allow_interpreters. A name also matches with a version suffix
// (python3, python3.11, perl5.36, lua5.4).
var interpreters = []string{
	// shells
	"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "pdksh", "csh", "tcsh", "fish", "rbash", "busybox", "toybox",
	// interpreters
	"python", "pypy", "perl", "ruby", "irb", "node", "nodejs", "deno", "bun", "php", "lua", "luajit", "tclsh", "wish",
	"expect", "awk", "gawk", "mawk", "nawk", "sed", "pwsh", "powershell", "osascript", "rscript", "julia", "java",
	"jshell", "guile", "racket", "sbcl", "gdb", "lldb",
	// programs that run another program named in their arguments
	"env", "xargs", "nice", "nohup", "timeout", "setsid", "stdbuf", "chroot", "nsenter", "unshare", "sudo", "su",
	"doas", "runuser", "flock", "ionice", "taskset", "chrt", "script", "strace", "ltrace", "watch", "time",
	"find", "parallel", "ssh", "systemd-run", "make",
}

// interpreterName reports whether the base name of path is one of
// interpreters, allowing a version suffix made of digits and dots.
func interpreterName(path string) (string, bool) {
	base := strings.ToLower(filepath.Base(path))
	stem := strings.TrimRight(base, "0123456789.-")
	for _, n := range interpreters {
		if base == n || stem == n {
			return n, true
		}
	}
	return "", false
}

// checkAllow refuses allow entries that name interpreters (by their own
// name or, for a path, the file it links to) unless unsafe is set.
func checkAllow(allow []string, unsafe bool) error {
	if unsafe {
		return nil
	}
	for _, a := range allow {
		if err := checkInterpreter(a); err != nil {
			return err
		}
	}
	return nil
}

// checkInterpreter refuses a command whose name, or whose resolved file's
// name, is an interpreter.
func checkInterpreter(cmd string) error {
	if n, ok := interpreterName(cmd); ok {
		return fmt.Errorf("exec: allow lists %q (%s): %w", cmd, n, ErrInterpreter)
	}
	if filepath.IsAbs(cmd) {
		if real, err := filepath.EvalSymlinks(cmd); err == nil {
			if n, ok := interpreterName(real); ok {
				return fmt.Errorf("exec: allow lists %q, a link to %s (%s): %w", cmd, real, n, ErrInterpreter)
			}
		}
	}
	return nil
}
