package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// GoBench is one `go test -bench` invocation.
type GoBench struct {
	// Pkg is the package path relative to the module root ("./raftfsm/").
	Pkg string
	// Pattern is the -bench regexp.
	Pattern string
	// Benchtime is the -benchtime value ("" keeps go test's default).
	Benchtime string
	// Count is the -count value (runs per benchmark).
	Count int
	// Timeout bounds the whole invocation.
	Timeout time.Duration
}

// Args are the go command's arguments.
func (g GoBench) Args() []string {
	args := []string{"test", "-run", "^$", "-bench", g.Pattern}
	if g.Benchtime != "" {
		args = append(args, "-benchtime", g.Benchtime)
	}
	if g.Count > 0 {
		args = append(args, "-count", strconv.Itoa(g.Count))
	}
	if g.Timeout > 0 {
		args = append(args, "-timeout", g.Timeout.String())
	}
	return append(args, g.Pkg)
}

// Command is the shell command that reproduces the run.
func (g GoBench) Command() string {
	args := g.Args()
	for i, a := range args {
		if strings.ContainsAny(a, "^$|*() ") {
			args[i] = "'" + a + "'"
		}
	}
	return "go " + strings.Join(args, " ")
}

// GoResult is one benchmark's metrics over its runs: unit -> one value per
// run (ns/op, B/op, allocs/op and every ReportMetric unit).
type GoResult struct {
	Name    string
	Metrics map[string][]float64
}

// Values returns the unit's values ("ns/op", "jobs/s", ...).
func (r GoResult) Values(unit string) []float64 { return r.Metrics[unit] }

// RunGoBench runs g in dir (the module root) and parses its output; the
// raw output is copied to log when log is not nil.
func RunGoBench(ctx context.Context, dir string, g GoBench, log io.Writer) ([]GoResult, error) {
	cmd := exec.CommandContext(ctx, "go", g.Args()...)
	cmd.Dir = dir
	var out bytes.Buffer
	if log != nil {
		cmd.Stdout = io.MultiWriter(&out, log)
	} else {
		cmd.Stdout = &out
	}
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	res := ParseGoBench(&out)
	if err != nil {
		return res, fmt.Errorf("bench: %s: %w", g.Command(), err)
	}
	return res, nil
}

// ParseGoBench parses `go test -bench` output. Results are in the order
// benchmarks first appear; the -GOMAXPROCS suffix is dropped from names.
func ParseGoBench(r io.Reader) []GoResult {
	byName := map[string]*GoResult{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		gr := byName[name]
		if gr == nil {
			gr = &GoResult{Name: name, Metrics: map[string][]float64{}}
			byName[name] = gr
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			gr.Metrics[f[i+1]] = append(gr.Metrics[f[i+1]], v)
		}
	}
	out := make([]GoResult, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out
}

// Find returns the result named name ("BenchmarkSubmit/batch=1000").
func Find(rs []GoResult, name string) (GoResult, bool) {
	for _, r := range rs {
		if r.Name == name {
			return r, true
		}
	}
	return GoResult{}, false
}

// Stats summarises repeated measurements.
type Stats struct {
	Median, Min, Max float64
	N                int
}

// Summarize returns the median, min and max of vs.
func Summarize(vs []float64) Stats {
	if len(vs) == 0 {
		return Stats{}
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stats{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}
