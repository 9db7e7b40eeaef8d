package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cliEngine drives the runtime through its command line.
type cliEngine struct {
	cfg Config
}

// globalArgs are flags that go before the subcommand.
func (e *cliEngine) globalArgs() []string {
	var g []string
	if e.cfg.Runtime == "podman" {
		if e.cfg.RuntimePath != "" {
			g = append(g, "--runtime", e.cfg.RuntimePath)
		}
		if e.cfg.CgroupManager != "" {
			g = append(g, "--cgroup-manager", e.cfg.CgroupManager)
		}
	}
	return g
}

func (e *cliEngine) binary() (string, error) {
	bin, err := exec.LookPath(e.cfg.Binary)
	if err != nil {
		return "", fmt.Errorf("%w: %s not found: %w", ErrRuntimeMissing, e.cfg.Binary, err)
	}
	return bin, nil
}

// call runs a short auxiliary command and returns its stdout.
func (e *cliEngine) call(ctx context.Context, args ...string) (string, error) {
	bin, err := e.binary()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.OpTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(e.globalArgs(), args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if isPermission(msg) {
			return "", fmt.Errorf("%w: %s %s: %s", ErrPermission, e.cfg.Runtime, args[0], msg)
		}
		return "", fmt.Errorf("%w: %s %s: %w: %s", ErrRuntime, e.cfg.Runtime, args[0], err, msg)
	}
	return stdout.String(), nil
}

func (e *cliEngine) version(ctx context.Context) (string, error) {
	field := "{{.Client.Version}}"
	if e.cfg.Runtime == "docker" {
		field = "{{.Server.Version}}"
	}
	out, err := e.call(ctx, "version", "--format", field)
	return strings.TrimSpace(out), err
}

func (e *cliEngine) images(ctx context.Context) ([]string, error) {
	// Untagged (dangling) images are of no use to a job, and listing them
	// is what makes the command slow on a host that has many.
	out, err := e.call(ctx, "images", "--filter", "dangling=false", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.Contains(l, "<none>") {
			continue
		}
		refs = append(refs, l)
	}
	return refs, nil
}

func (e *cliEngine) removeByLabel(ctx context.Context, label string) (int, error) {
	out, err := e.call(ctx, "ps", "-a", "-q", "--filter", "label="+label)
	if err != nil {
		return 0, err
	}
	ids := strings.Fields(out)
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := e.call(ctx, append([]string{"rm", "-f"}, ids...)...); err != nil {
		return 0, err
	}
	return len(ids), nil
}

func (e *cliEngine) runArgs(s runSpec) []string {
	args := append(e.globalArgs(), "run", "--rm", "--name", s.Name)
	if e.cfg.Registry == "" {
		args = append(args, "--pull=never")
	} else {
		args = append(args, "--pull=missing")
	}
	for _, k := range sortedKeys(s.Labels) {
		args = append(args, "--label", k+"="+s.Labels[k])
	}
	if s.Network != "" {
		args = append(args, "--network", s.Network)
	}
	if e.cfg.Runtime == "docker" && e.cfg.RuntimePath != "" {
		args = append(args, "--runtime", e.cfg.RuntimePath)
	}
	for _, u := range e.cfg.Ulimits {
		args = append(args, "--ulimit", u)
	}
	if s.CPUs > 0 {
		args = append(args, "--cpus", strconv.FormatFloat(s.CPUs, 'f', -1, 64))
	}
	if s.Memory > 0 {
		args = append(args, "--memory", strconv.FormatInt(s.Memory, 10))
	}
	if s.Pids > 0 {
		args = append(args, "--pids-limit", strconv.FormatInt(s.Pids, 10))
	}
	for _, k := range sortedKeys(s.Env) {
		args = append(args, "-e", k+"="+s.Env[k])
	}
	if s.Workdir != "" {
		args = append(args, "--workdir", s.Workdir)
	}
	args = append(args, e.cfg.ExtraArgs...)
	args = append(args, s.Image)
	return append(args, s.Argv...)
}

func (e *cliEngine) run(ctx context.Context, s runSpec) (runOutcome, error) {
	bin, err := e.binary()
	if err != nil {
		return runOutcome{}, err
	}
	if err := ctx.Err(); err != nil {
		return runOutcome{Stopped: true}, nil
	}
	out := &limitBuffer{limit: e.cfg.OutputLimit}
	// The run process is not tied to ctx: on cancel the container is stopped
	// through the runtime first, which makes the run process exit.
	cmd := exec.Command(bin, e.runArgs(s)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return runOutcome{}, fmt.Errorf("%w: start %s: %w", ErrRuntime, bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var waitErr error
	stopped := false
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		stopped = true
		waitErr = e.stop(s.Name, cmd, done)
	}
	res := runOutcome{Output: out.String(), Stopped: stopped}
	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		res.ExitCode = int64(exitErr.ExitCode())
	default:
		return res, fmt.Errorf("%w: %w", ErrRuntime, waitErr)
	}
	if stopped {
		return res, nil
	}
	if err := classify(e.cfg.Runtime, s.Image, res.ExitCode, out.String()); err != nil {
		return res, err
	}
	return res, nil
}

// stop stops and removes the container and returns the run process's exit.
func (e *cliEngine) stop(name string, cmd *exec.Cmd, done <-chan error) error {
	grace := int(math.Ceil(e.cfg.StopGrace.Seconds()))
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.StopGrace+e.cfg.OpTimeout)
	defer cancel()
	_, stopErr := e.call(ctx, "stop", "-t", strconv.Itoa(grace), name)
	var waitErr error
	bound := e.cfg.OpTimeout
	if stopErr != nil {
		// Not created yet, or the runtime is stuck: end the run process.
		_ = cmd.Process.Kill()
		bound = e.cfg.StopGrace + e.cfg.OpTimeout
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case waitErr = <-done:
	case <-t.C:
		_ = cmd.Process.Kill()
		waitErr = <-done
	}
	// --rm normally removed it; make sure, since the run process may have
	// been killed before it could.
	_, _ = e.call(ctx, "rm", "-f", name)
	return waitErr
}

// classify turns a runtime failure (as opposed to the task's own exit) into
// an error. Podman and docker exit 125 when they fail themselves; 126 when
// the command cannot be invoked.
func classify(runtime, image string, code int64, output string) error {
	if code != 125 && code != 126 {
		return nil
	}
	low := strings.ToLower(output)
	switch {
	case !strings.Contains(low, "error"):
		return nil
	case strings.Contains(low, "image not known"), strings.Contains(low, "no such image"),
		strings.Contains(low, "unable to find image"), strings.Contains(low, "manifest unknown"),
		strings.Contains(low, "pull access denied"):
		return fmt.Errorf("%w: image %s not present", ErrImageAbsent, image)
	case isPermission(low):
		return fmt.Errorf("%w: %s", ErrPermission, excerpt(output))
	case code == 125:
		return fmt.Errorf("%w: %s: %s", ErrRuntime, runtime, excerpt(output))
	}
	return nil
}

func isPermission(s string) bool {
	return strings.Contains(strings.ToLower(s), "permission denied") || strings.Contains(strings.ToLower(s), "operation not permitted")
}

func excerpt(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
