//go:build !linux

package exec

import (
	"context"
	"errors"
	"fmt"
	osexec "os/exec"
)

// run starts the command described by s with its output going to out,
// calls started once it runs, and waits for it. A done ctx kills the
// command (only the command itself: process groups are Linux-only here).
// The error is nil for exit status 0, an *exitError for any other end, and
// otherwise what kept it from running.
func run(ctx context.Context, s spec, out *boundedBuffer, started func()) error {
	cmd := osexec.CommandContext(ctx, s.path, s.argv[1:]...)
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return err
	}
	started()
	err := cmd.Wait()
	var ee *osexec.ExitError
	switch {
	case errors.As(err, &ee):
		return &exitError{code: ee.ExitCode()}
	case errors.Is(err, osexec.ErrWaitDelay):
		return ErrWaitDelay
	}
	return err
}

// exitError is a command that ended with a non-zero status or a signal.
type exitError struct {
	code int
}

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode is the exit status, or -1 when a signal ended the command.
func (e *exitError) ExitCode() int { return e.code }
