package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-hclog"

	"github.com/planetary/planetary/core/bench"
)

// BenchCommand runs the benchmark suite and writes BENCHMARKS.md.
type BenchCommand struct{ Meta }

func (c *BenchCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary bench [options]

  Runs planetary's benchmarks: the end-to-end job lifecycle through an
  in-process dev agent (sim and exec plugins as child processes) beside the
  raw raft ceiling measured in the same run; the same lifecycle over the
  four-region host (agent -dev -regions in process), one region's rate while
  another is cut off, and a hand-off's and a ledger checkpoint's delivery
  between two regions over links with 2 s latency; the same lifecycle on a
  cluster of agent child processes (3 servers, 1 client) and a SIGKILL of its
  leader; the acceptance drill as a child process; and the package
  benchmarks through "go test -bench" (run from the module root). Each group
  is time-boxed. Writes a markdown
  report with the machine, every figure (median and min–max of its runs),
  its target and the command that reproduces it.

Options:

  -out=<file>          Write the report here (default: print it).
  -quick               Small runs, 1M-job figures skipped (a smoke test).
  -only=<groups>       Comma list of P1,R1,R2,R3,P2,P3,P4,P5,P6,P7,P8,micro,
                       P9,disk.
                       disk (the data dir's size over 1M-job runs) runs
                       only when named.
  -soak-jobs=<n>       Jobs of the P9 soak (default 10000000, 200000 with
                       -quick); it samples every tenth of them.
  -dir=<dir>           Module root for go test (default ".").
  -cpuprofile=<file>   CPU profile of this process (the in-process runs).
  -memprofile=<file>   Heap profile at the end.
  -v                   Show progress and go test output on stderr.
`)
}

func (c *BenchCommand) Synopsis() string { return "Run the benchmarks and write BENCHMARKS.md" }

func (c *BenchCommand) Run(args []string) int {
	fs := c.FlagSet("bench", false)
	var (
		out, only, dir, cpuProf, memProf string
		quick, verbose                   bool
		soakJobs                         int
	)
	fs.StringVar(&out, "out", "", "")
	fs.BoolVar(&quick, "quick", false, "")
	fs.StringVar(&only, "only", "", "")
	fs.StringVar(&dir, "dir", ".", "")
	fs.StringVar(&cpuProf, "cpuprofile", "", "")
	fs.StringVar(&memProf, "memprofile", "", "")
	fs.BoolVar(&verbose, "v", false, "")
	fs.IntVar(&soakJobs, "soak-jobs", 0, "")
	if err := fs.Parse(args); err != nil {
		c.Ui.Error(err.Error())
		return cli.RunResultHelp
	}
	if fs.NArg() != 0 {
		c.Ui.Error("bench takes no arguments")
		return cli.RunResultHelp
	}
	if soakJobs < 0 || (soakJobs > 0 && soakJobs < 10) {
		c.Ui.Error(fmt.Sprintf("-soak-jobs %d: want at least 10 jobs (the soak samples every tenth)", soakJobs))
		return 1
	}
	var groups []string
	if only != "" {
		known := map[string]bool{}
		for _, g := range bench.Groups() {
			known[strings.ToLower(g)] = true
		}
		for _, g := range strings.Split(only, ",") {
			g = strings.TrimSpace(g)
			if !known[strings.ToLower(g)] {
				c.Ui.Error(fmt.Sprintf("unknown benchmark group %q (want %s)", g, strings.Join(bench.Groups(), ",")))
				return 1
			}
			groups = append(groups, g)
		}
	}
	self, err := os.Executable()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("locate the planetary binary: %v", err))
		return 1
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("module dir %s: %v", dir, err))
		return 1
	}
	stopProfiles, err := startProfiles(cpuProf, "")
	defer stopProfiles()
	if err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := bench.SuiteConfig{
		Logger:    hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Error, Output: os.Stderr}),
		SelfPath:  self,
		ModuleDir: absDir,
		Quick:     quick,
		SoakJobs:  soakJobs,
		Only:      groups,
		Progress:  progress{c.Ui, verbose},
		HasCommand: func(name string) bool {
			_, ok := Commands(c.Ui)[name]
			return ok
		},
		Command: "planetary " + strings.Join(append([]string{"bench"}, args...), " "),
	}
	rep, err := bench.RunSuite(ctx, cfg)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("bench interrupted: %v", err))
		return 1
	}
	if memProf != "" {
		f, err := os.Create(memProf)
		if err != nil {
			c.Ui.Error(fmt.Sprintf("heap profile: %v", err))
			return 1
		}
		runtime.GC()
		err = pprof.WriteHeapProfile(f)
		_ = f.Close()
		if err != nil {
			c.Ui.Error(fmt.Sprintf("heap profile: %v", err))
			return 1
		}
	}
	md := rep.Markdown()
	if out == "" {
		c.Ui.Output(md)
		return 0
	}
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		c.Ui.Error(fmt.Sprintf("write %s: %v", out, err))
		return 1
	}
	c.Ui.Output(fmt.Sprintf("wrote %s (%d figures)", out, len(rep.Figures)))
	return 0
}

// progress writes suite progress lines to the Ui (and go test output too
// when verbose).
type progress struct {
	ui      cli.Ui
	verbose bool
}

func (p progress) Write(b []byte) (int, error) {
	s := strings.TrimRight(string(b), "\n")
	if strings.HasPrefix(s, "bench: ") {
		p.ui.Info(s)
	} else if p.verbose {
		p.ui.Error(s)
	}
	return len(b), nil
}

// benchCommands are the benchmark commands.
func benchCommands(m Meta) map[string]cli.CommandFactory {
	return map[string]cli.CommandFactory{
		"bench": func() (cli.Command, error) { return &BenchCommand{Meta: m}, nil },
	}
}
