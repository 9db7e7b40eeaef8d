package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/planetary/planetary/core/runner"
)

// ErrNoDrillResult is returned when the drill's output holds no result.
var ErrNoDrillResult = errors.New("bench: no acceptance result in the drill's output")

// DrillConfig configures one `planetary drill acceptance -json` child run.
type DrillConfig struct {
	// SelfPath is the planetary binary.
	SelfPath string
	// Dir is the child's working directory.
	Dir string
	// Args follow `drill acceptance -json`.
	Args []string
	// SampleEvery is the RSS sampling interval (50ms by default).
	SampleEvery time.Duration
}

// DrillRun is what one drill run measured.
type DrillRun struct {
	// Wall is the child's wall time, start to exit.
	Wall time.Duration
	// Result is the drill's acceptance.json (nil when it printed none).
	Result *runner.AcceptanceResult
	// PeakRSSKB is the larger of the drill's own peak (its process tree,
	// summed) and this process's samples of the child's tree.
	PeakRSSKB int64
	// Output is the child's stderr and non-JSON stdout.
	Output string
	// ExitErr is the child's exit error (a failed assertion exits 1).
	ExitErr error
}

// RunDrill runs `planetary drill acceptance -json` with cfg.Args and
// samples the summed RSS of its process tree while it runs. A drill that
// exits 1 with a result (failed assertions) is not an error.
func RunDrill(ctx context.Context, cfg DrillConfig) (DrillRun, error) {
	if cfg.SelfPath == "" {
		return DrillRun{}, ErrNoSelf
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = 50 * time.Millisecond
	}
	cmd := exec.CommandContext(ctx, cfg.SelfPath, append([]string{"drill", "acceptance", "-json"}, cfg.Args...)...)
	cmd.Dir = cfg.Dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return DrillRun{}, fmt.Errorf("bench: start drill: %w", err)
	}
	var (
		peak int64
		wg   sync.WaitGroup
	)
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(cfg.SampleEvery)
		defer t.Stop()
		for {
			peak = max(peak, TreeRSSKB(cmd.Process.Pid))
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	exitErr := cmd.Wait()
	run := DrillRun{Wall: time.Since(start), ExitErr: exitErr}
	close(stop)
	wg.Wait()
	run.PeakRSSKB = peak
	js, rest := splitJSON(stdout.String())
	run.Output = strings.TrimSpace(rest + "\n" + stderr.String())
	if js == "" {
		if ctx.Err() != nil {
			return run, fmt.Errorf("bench: drill: %w", ctx.Err())
		}
		return run, fmt.Errorf("%w (exit: %v)", ErrNoDrillResult, exitErr)
	}
	var res runner.AcceptanceResult
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		return run, fmt.Errorf("bench: parse acceptance result: %w", err)
	}
	run.Result = &res
	run.PeakRSSKB = max(run.PeakRSSKB, res.PeakRSSKB)
	return run, nil
}

// splitJSON returns the first top-level JSON object printed on its own
// lines in out and the remaining text.
func splitJSON(out string) (js, rest string) {
	lines := strings.SplitAfter(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		for j := i; j < len(lines); j++ {
			if strings.HasSuffix(strings.TrimSpace(lines[j]), "}") {
				js = strings.Join(lines[i:j+1], "")
				if json.Valid([]byte(js)) {
					return js, strings.Join(lines[:i], "") + strings.Join(lines[j+1:], "")
				}
			}
		}
	}
	return "", out
}

// Phase is one part of the drill's wall time.
type Phase struct {
	Name    string
	Seconds float64
}

// phaseOrder names the drill's timings in run order.
var phaseOrder = []struct{ key, name string }{
	{"trial.start", "trial: agent and plugins up"},
	{"trial.load", "trial: submit 10,000 jobs"},
	{"trial.kill", "trial: outage injected (offset from the load's start)"},
	{"trial.drain", "trial: drain to the last job"},
	{"trial.report", "trial: collect and write the bundle"},
	{"trial.wall", "trial: whole stage"},
	{"restart.start", "restart drill: child agent up"},
	{"restart.load", "restart drill: load before the kill"},
	{"restart.kill", "restart drill: SIGKILL (offset from the load's start)"},
	{"restart.restart", "restart drill: restart on the same data dir"},
	{"restart.drain", "restart drill: drain after the restart"},
	{"restart.wall", "restart drill: whole stage"},
}

// Phases is the drill's timing breakdown in run order (offsets included
// and marked; they overlap the phase they fall in).
func (d DrillRun) Phases() []Phase {
	if d.Result == nil {
		return nil
	}
	var out []Phase
	seen := map[string]bool{}
	for _, p := range phaseOrder {
		if v, ok := d.Result.Timings[p.key]; ok {
			out = append(out, Phase{Name: p.name, Seconds: v / 1000})
			seen[p.key] = true
		}
	}
	var extra []string
	for k := range d.Result.Timings {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		out = append(out, Phase{Name: k, Seconds: d.Result.Timings[k] / 1000})
	}
	return out
}

// Reference demos' figures (same task, measured on their own machines).
var referenceRuns = [][4]string{
	{"TypeScript reference demo", "10,000 jobs", "20–24 s", "~370 MB"},
	{"TypeScript reference demo, acceptance", "4,000 jobs + restart", "59 s", "~295 MB"},
	{"Python reference demo", "10,000 jobs with kill/resume", "~18 s", "~84 MB"},
	{"Nomad dev mode", "batch jobs", "8–18 jobs/s", ""},
}

// Markdown renders the run beside the reference demos, with the breakdown
// and the failed assertions.
func (d DrillRun) Markdown() string {
	var b strings.Builder
	b.WriteString("| run | work | wall time | peak RSS |\n|---|---|---|---|\n")
	wall, rss := "—", "—"
	if d.Result != nil {
		wall = fmt.Sprintf("%.1f s", d.Wall.Seconds())
	}
	if d.PeakRSSKB > 0 {
		rss = fmt.Sprintf("%.0f MB", float64(d.PeakRSSKB)/1024)
	}
	work := "10,000 jobs with a plugin SIGKILL + restart drill (SIGKILL and restart of an agent)"
	if d.Result != nil && d.Result.Trial != nil && d.Result.Restart != nil {
		work = fmt.Sprintf("%s jobs with a plugin SIGKILL + restart drill (%s jobs, SIGKILL and restart of an agent)",
			group(int64(d.Result.Trial.Submit.Total)), group(int64(d.Result.Restart.Submit.Total)))
	}
	fmt.Fprintf(&b, "| planetary drill acceptance | %s | %s | %s |\n", work, wall, rss)
	for _, r := range referenceRuns {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3])
	}
	if ph := d.Phases(); len(ph) > 0 {
		b.WriteString("\nBreakdown (drill timings; offsets overlap the phase they fall in):\n\n")
		for _, p := range ph {
			fmt.Fprintf(&b, "- %s: %.3f s\n", p.Name, p.Seconds)
		}
	}
	if d.Result != nil {
		if failed := d.Result.Failed(); len(failed) > 0 {
			b.WriteString("\nFailed assertions:\n\n")
			for _, a := range failed {
				fmt.Fprintf(&b, "- %s: measured %v, threshold %v %s\n", a.ID, a.Measured, a.Threshold, a.Detail)
			}
		}
	} else if d.ExitErr != nil {
		fmt.Fprintf(&b, "\nThe drill produced no result: %v\n", d.ExitErr)
	}
	return b.String()
}

func failedIDs(as []runner.Assertion) string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return strings.Join(ids, ", ")
}

// TreeRSSKB is the summed resident memory (KiB) of pid and its
// descendants, read from /proc (0 without /proc).
func TreeRSSKB(pid int) int64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the
		// last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	page := int64(syscall.Getpagesize()) / 1024
	var total int64
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		queue = append(queue, children[p]...)
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "statm"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			total += n * page
		}
	}
	return total
}
