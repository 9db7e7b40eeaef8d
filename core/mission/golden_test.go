package mission

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestBadFilesGolden renders the diagnostics of each testdata/bad-*.hcl and
// compares them with its .golden file. Files named bad-job-* are job files,
// bad-agent-* agent files; the rest are parsed with ParseMissionFile.
func TestBadFilesGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad-*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 12 {
		t.Fatalf("want at least 12 bad files, have %d", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var diags hcl.Diagnostics
			base := filepath.Base(path)
			switch {
			case strings.HasPrefix(base, "bad-job-"):
				_, diags = ParseJobFile(path)
			case strings.HasPrefix(base, "bad-agent"):
				_, diags = ParseAgentFile(path)
			default:
				_, diags = ParseMissionFile(path)
			}
			if !diags.HasErrors() {
				t.Fatalf("no error diagnostics for %s", path)
			}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a source range: %s", d.Summary)
				}
			}
			var got bytes.Buffer
			if err := FormatDiagnostics(&got, nil, diags); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(path, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./core/mission -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("diagnostics differ from %s:\n--- got\n%s\n--- want\n%s", golden, got.String(), want)
			}
		})
	}
}

// TestReferenceDoc keeps docs/mission-reference.md in step with the schema
// tables.
func TestReferenceDoc(t *testing.T) {
	var got bytes.Buffer
	if err := WriteReference(&got); err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/mission-reference.md"
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./core/mission -update)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("%s is stale: run go test ./core/mission -update", path)
	}
}
