package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestAgentBadConfig: `planetary agent -config <bad file>` prints one
// `<file>:<line>,<col>: <summary>` line per problem and exits 1.
func TestAgentBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	src := `mission "m" { seed = 1 }
shard "earth" {
  max_queue = -5
  spillover_targets = ["earth"]
}
node "earth.a" {
  shard    = "venus"
  plugin   = "sim"
  capacity = 2
  colour   = "red"
}
`
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(planetaryBin(t), "agent", "-config", bad)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want 1\n%s%s", err, stdout.String(), stderr.String())
	}
	line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(bad) + `:(\d+),(\d+): ([^;\n]+)`)
	got := line.FindAllStringSubmatch(stderr.String(), -1)
	want := map[string]string{"3": "", "4": "", "7": "", "10": ""}
	for _, m := range got {
		delete(want, m[1])
	}
	if len(want) != 0 || len(got) < 4 {
		t.Errorf("diagnostic lines missing for lines %v; stderr:\n%s", want, stderr.String())
	}
}
