package mission

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes the parsers panic and that every
// error diagnostic renders.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.hcl")
	more, _ := filepath.Glob("../../examples/*.hcl")
	for _, p := range append(paths, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, diags := Parse(src, "fuzz.hcl")
		if err := FormatDiagnostics(io.Discard, file.Sources, diags); err != nil {
			t.Fatal(err)
		}
		if file.Mission != nil && !diags.HasErrors() {
			_ = file.Mission.Digest()
			_ = GenerateJobs(file.Mission, 100)
			_ = Diff(nil, file.Mission)
		}
		_, _ = ParseJobs(src, "fuzz.hcl")
	})
}

func BenchmarkParseKardashev(b *testing.B) {
	src, err := os.ReadFile("../../examples/mission.hcl")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, diags := ParseMission(src, "mission.hcl"); diags.HasErrors() {
			b.Fatal(diags.Error())
		}
	}
}

func BenchmarkGenerateJobs1M(b *testing.B) {
	m, diags := ParseMissionFile("../../examples/mission.hcl")
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	for b.Loop() {
		if n := len(GenerateJobs(m, 1_000_000)); n != 1_000_000 {
			b.Fatal(n)
		}
	}
}
