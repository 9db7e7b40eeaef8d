package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The process tests run the real binary: PLANETARY_BIN (set by the
// GNUmakefile), else one built here once per test process.
var processBin struct {
	once sync.Once
	path string
	err  error
}

func planetaryBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PLANETARY_BIN"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	processBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "planetary-bin-")
		if err != nil {
			processBin.err = err
			return
		}
		processBin.path = filepath.Join(dir, "planetary")
		out, err := exec.Command("go", "build", "-o", processBin.path, ".").CombinedOutput()
		if err != nil {
			processBin.err = err
			t.Logf("go build: %s", out)
		}
	})
	if processBin.err != nil {
		t.Fatalf("build planetary: %v", processBin.err)
	}
	return processBin.path
}

func examplePlan(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", "..", "examples", "mission.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runBin runs the binary in dir and returns its exit code and output.
func runBin(t *testing.T, dir string, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, planetaryBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PLANETARY_ADDR=", "PLANETARY_TOKEN=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %v: %v\n%s", args, err, out.String())
		}
		code = ee.ExitCode()
	}
	return code, out.String()
}

var bundleLine = regexp.MustCompile(`(?m)^Bundle\s+= (.+)$`)

func TestRunProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	work := t.TempDir()
	data := filepath.Join(work, "data")
	plan := examplePlan(t)
	tests := []struct {
		name      string
		wantInOut []string
	}{
		// -label small wins over the schedule's reporting retarget.
		{"first run submits and completes", []string{"accepted 600, duplicate 0", "Stopped             = done", "Ledger verify       = OK", "Label               = small", "/small\n"}},
		{"second run on the same data dir submits nothing twice", []string{"accepted 0, duplicate 600", "Ledger verify       = OK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runBin(t, work, 90*time.Second, "run", "-plan", plan, "-jobs", "600", "-data-dir", data, "-label", "small")
			if want := runExitWant(out); code != want {
				t.Fatalf("run exited %d, want %d:\n%s", code, want, out)
			}
			for _, w := range tt.wantInOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			m := bundleLine.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no bundle line:\n%s", out)
			}
			code, vout := runBin(t, work, 30*time.Second, "ledger", "verify", strings.TrimSpace(m[1]))
			if code != 0 || !strings.HasPrefix(vout, "OK: ") {
				t.Fatalf("ledger verify exited %d:\n%s", code, vout)
			}
			checkRunBundle(t, strings.TrimSpace(m[1]))
		})
	}
}

func TestLedgerVerifyRejectsTamperedBundle(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	work := t.TempDir()
	code, out := runBin(t, work, 90*time.Second, "run", "-plan", examplePlan(t), "-jobs", "200", "-label", "tamper")
	if code != runExitWant(out) {
		t.Fatalf("run exited %d:\n%s", code, out)
	}
	dir := strings.TrimSpace(bundleLine.FindStringSubmatch(out)[1])
	evPath := filepath.Join(dir, "events.ndjson")
	b, err := os.ReadFile(evPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	lines[9] = strings.Replace(lines[9], `"index":`, `"index":1`, 1)
	if err := os.WriteFile(evPath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, vout := runBin(t, work, 30*time.Second, "ledger", "verify", dir)
	if code != 1 || !strings.Contains(vout, "first bad: event seq 10") {
		t.Fatalf("ledger verify exited %d, want 1 naming seq 10:\n%s", code, vout)
	}
}

func TestDrillRestartProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	work := t.TempDir()
	code, out := runBin(t, work, 120*time.Second, "drill", "restart", "-plan", examplePlan(t), "-jobs", "2000",
		"-stop-after", "30%", "-data-dir", filepath.Join(work, "data"))
	if code != 0 {
		t.Fatalf("drill restart exited %d:\n%s", code, out)
	}
	for _, w := range []string{"SIGKILL after", "ok      resumed-from-last-committed-index", "ok      re-executions-fenced", "ok      ledger-verify"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// runExitWant is the exit code `planetary run` owes for its output: 2 when
// its summary counts parked or failed jobs, 0 otherwise.
func runExitWant(out string) int {
	for _, k := range []string{"Parked", "Failed"} {
		m := regexp.MustCompile(`(?m)^` + k + `\s+= (\d+)$`).FindStringSubmatch(out)
		if m != nil && m[1] != "0" {
			return 2
		}
	}
	return 0
}

// A -label is one path component under the reporting directory: one that
// would put the bundle elsewhere is refused before the run starts, naming
// the flag, and nothing is written.
func TestRunLabelIsOnePathComponent(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	tests := []struct{ name, label string }{
		{"parent", "../escape"},
		{"nested", "a/b"},
		{"dot-dot", ".."},
		{"absolute", "/tmp/escape"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			work := filepath.Join(root, "work")
			if err := os.Mkdir(work, 0o755); err != nil {
				t.Fatal(err)
			}
			code, out := runBin(t, work, 60*time.Second, "run", "-plan", examplePlan(t), "-jobs", "10", "-label", tt.label)
			if code != 1 || !strings.Contains(out, "-label") {
				t.Fatalf("run -label %q exited %d, want 1 naming -label:\n%s", tt.label, code, out)
			}
			for _, dir := range []string{root, work} {
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					if e.Name() != "work" {
						t.Errorf("run -label %q wrote %s", tt.label, filepath.Join(dir, e.Name()))
					}
				}
			}
		})
	}
}

// A run writes its checkpoints and bundle under the in-process agent's data
// dir, never the working directory: with -data-dir under it, without under
// the planetary-run-* directory it makes in the temp dir (and keeps).
func TestRunPathsUnderDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	for _, tc := range []struct {
		name    string
		dataDir bool
	}{{"with -data-dir", true}, {"default data dir", false}} {
		planetaryBin(t) // built before TMPDIR moves below
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			work, tmp := filepath.Join(root, "work"), filepath.Join(root, "tmp")
			for _, d := range []string{work, tmp} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"run", "-plan", examplePlan(t), "-jobs", "100", "-label", "paths"}
			data := filepath.Join(root, "data")
			if tc.dataDir {
				args = append(args, "-data-dir", data)
			}
			t.Setenv("TMPDIR", tmp)
			code, out := runBin(t, work, 90*time.Second, args...)
			if code != runExitWant(out) {
				t.Fatalf("run exited %d:\n%s", code, out)
			}
			if !tc.dataDir {
				dirs, _ := filepath.Glob(filepath.Join(tmp, "planetary-run-*"))
				if len(dirs) != 1 {
					t.Fatalf("temp dir holds %v, want one planetary-run-* data dir", dirs)
				}
				data = dirs[0]
			}
			left, err := os.ReadDir(work)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 0 {
				t.Errorf("the run wrote %v into its working directory", left)
			}
			m := bundleLine.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no bundle line:\n%s", out)
			}
			bundle := strings.TrimSpace(m[1])
			if rel, err := filepath.Rel(filepath.Join(data, "reports"), bundle); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("bundle %s is not under %s/reports", bundle, data)
			}
			if _, err := os.Stat(filepath.Join(bundle, "summary.json")); err != nil {
				t.Errorf("bundle: %v", err)
			}
			if _, err := os.Stat(filepath.Join(data, "checkpoints", "kardashev.snap")); err != nil {
				t.Errorf("checkpoint not under the data dir: %v", err)
			}
		})
	}
}
