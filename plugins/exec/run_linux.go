package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// A command runs in its own process group and gets SIGKILL if the agent
// dies. Its exit is read from a pidfd through the Go runtime's poller, so a
// node running thousands of long commands holds no OS thread per command
// (a blocking wait would hold one each). Stdout and stderr share one pipe;
// stdin is the agent's /dev/null descriptor.

// child is a started command.
type child struct {
	pid   int
	pidfd *os.File // nil when the kernel gives no pidfd

	mu     sync.Mutex
	reaped bool
}

// kill sends SIGKILL to the command's process group, unless the command
// has been reaped (its pid, and so its group id, may then be reused).
func (c *child) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reaped {
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	}
}

// wait reaps the command.
func (c *child) wait() (procExit, error) {
	if c.pidfd != nil {
		defer c.pidfd.Close()
		ex, err := c.waitPidfd()
		if !errors.Is(err, syscall.EINVAL) {
			return ex, err
		}
		// waitid cannot take a pidfd on this kernel: wait by pid.
	}
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(c.pid, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		c.setReaped()
		if err != nil {
			return procExit{}, fmt.Errorf("exec: wait: %w", err)
		}
		if ws.Signaled() {
			return procExit{code: -1, signal: ws.Signal()}, nil
		}
		return procExit{code: ws.ExitStatus()}, nil
	}
}

// waitPidfd waits for the pidfd to turn readable (the process exited) in
// the runtime's poller, then reaps the process without blocking.
func (c *child) waitPidfd() (procExit, error) {
	rc, err := c.pidfd.SyscallConn()
	if err != nil {
		return procExit{}, err
	}
	var (
		info    siginfoChild
		waitErr error
	)
	err = rc.Read(func(fd uintptr) bool {
		// Hold the lock so a concurrent kill never signals the group
		// of a reaped (and so reusable) pid.
		c.mu.Lock()
		defer c.mu.Unlock()
		for {
			info = siginfoChild{}
			_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPidfd, fd, uintptr(unsafe.Pointer(&info)),
				syscall.WEXITED|syscall.WNOHANG, 0, 0)
			if e != syscall.EINTR {
				if e != 0 {
					waitErr = e
				}
				break
			}
		}
		if waitErr == nil && info.Pid == 0 {
			return false // still running: wait for the poller
		}
		c.reaped = waitErr == nil
		return true
	})
	switch {
	case err != nil:
		return procExit{}, fmt.Errorf("exec: wait: %w", err)
	case waitErr != nil:
		return procExit{}, fmt.Errorf("exec: waitid: %w", waitErr)
	case info.Code == cldExited:
		return procExit{code: int(info.Status)}, nil
	}
	return procExit{code: -1, signal: syscall.Signal(info.Status)}, nil
}

// waitid constants (linux/wait.h, asm-generic/siginfo.h).
const (
	pPidfd    = 3
	cldExited = 1
)

// siginfoChild is siginfo_t as waitid fills it in for a child process:
// signo, errno and code, padding to the pointer size, then pid, uid and
// status. (MIPS swaps errno and code; neither is read here.)
type siginfoChild struct {
	Signo  int32
	Errno  int32
	Code   int32
	_      [is64bit]int32
	Pid    int32
	UID    uint32
	Status int32
	_      [128 - (6+is64bit)*4]byte
}

const is64bit = int(^uint(0) >> 63)

func (c *child) setReaped() {
	c.mu.Lock()
	c.reaped = true
	c.mu.Unlock()
}

// run starts the command described by s with its output going to out,
// calls started once it runs, and waits for it. A done ctx kills the
// command's process group. The error is nil for exit status 0, an
// *exitError for any other end, and otherwise what kept it from running.
func run(ctx context.Context, s spec, out *boundedBuffer, started func()) error {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return fmt.Errorf("exec: pipe: %w", err)
	}
	pr, pw := p[0], p[1]
	if err := syscall.SetNonblock(pr, true); err != nil {
		syscall.Close(pr)
		syscall.Close(pw)
		return fmt.Errorf("exec: pipe: %w", err)
	}
	outR := os.NewFile(uintptr(pr), "output")
	defer outR.Close()

	pidfd := -1
	pid, err := syscall.ForkExec(s.path, s.argv, &syscall.ProcAttr{
		Dir:   s.dir,
		Env:   s.env,
		Files: []uintptr{s.stdin, uintptr(pw), uintptr(pw)},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, PidFD: &pidfd},
	})
	syscall.Close(pw)
	if err != nil {
		return &os.PathError{Op: "fork/exec", Path: s.path, Err: err}
	}
	c := &child{pid: pid}
	if pidfd >= 0 {
		if err := syscall.SetNonblock(pidfd, true); err == nil {
			c.pidfd = os.NewFile(uintptr(pidfd), "pidfd")
		} else {
			syscall.Close(pidfd)
		}
	}
	started()
	stop := context.AfterFunc(ctx, c.kill)
	defer stop()

	type exit struct {
		procExit
		err error
	}
	exited := make(chan exit, 1)
	go func() {
		ex, err := c.wait()
		// Output still open after the command is gone belongs to
		// something it left behind: give it waitDelay, then stop reading.
		_ = outR.SetReadDeadline(time.Now().Add(waitDelay))
		exited <- exit{ex, err}
	}()
	_, readErr := out.ReadFrom(outR)
	e := <-exited
	switch {
	case e.err != nil:
		return e.err
	case e.code != 0:
		return &exitError{e.procExit}
	case errors.Is(readErr, os.ErrDeadlineExceeded):
		return ErrWaitDelay
	case readErr != nil:
		return fmt.Errorf("exec: read output: %w", readErr)
	}
	return nil
}

// procExit is how a command ended: its exit code, or -1 and the signal
// that killed it.
type procExit struct {
	code   int
	signal syscall.Signal
}

// exitError is a command that ended with a non-zero status or a signal.
type exitError struct {
	procExit
}

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode is the exit status, or -1 when a signal ended the command.
func (e *exitError) ExitCode() int { return e.code }
