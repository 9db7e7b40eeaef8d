package exec

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWorkDirs(t *testing.T) {
	root := filepath.Join(t.TempDir(), "exec")
	w, err := newWorkDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		job       string
		prepare   func(t *testing.T, path string) // before acquire
		fill      bool                            // write a file before release
		wantKept  bool                            // still under its name after release
		wantSpare int                             // spares after release
	}{
		{name: "new dir, empty at the end, becomes a spare", job: "a-1", wantSpare: 1},
		{name: "spare renamed into place and back", job: "b-1", wantSpare: 1},
		{name: "a dir the command wrote into stays", job: "c-1", fill: true, wantKept: true, wantSpare: 0},
		{name: "another new dir", job: "d-1", wantSpare: 1},
		{name: "existing dir with files is used as it is, the spare kept", job: "c-1", wantKept: true, wantSpare: 1,
			prepare: func(t *testing.T, path string) {
				if _, err := os.Stat(filepath.Join(path, "out")); err != nil {
					t.Fatal("the earlier task's file is gone")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prepare != nil {
				tt.prepare(t, filepath.Join(root, tt.job))
			}
			path, err := w.acquire(tt.job)
			if err != nil {
				t.Fatal(err)
			}
			if path != filepath.Join(root, tt.job) {
				t.Fatalf("path %s", path)
			}
			if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
				t.Fatalf("not a directory: %v", err)
			}
			if tt.fill {
				if err := os.WriteFile(filepath.Join(path, "out"), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			w.release(path)
			if _, err := os.Stat(path); (err == nil) != tt.wantKept {
				t.Fatalf("kept = %v, want %v", err == nil, tt.wantKept)
			}
			if got := w.spares(); got != tt.wantSpare {
				t.Fatalf("spares = %d, want %d", got, tt.wantSpare)
			}
		})
	}
}

func TestEmptyDir(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string) string
		want  bool
	}{
		{"empty", func(d string) string { return d }, true},
		{"a file", func(d string) string { _ = os.WriteFile(filepath.Join(d, "f"), nil, 0o600); return d }, false},
		{"a dot file", func(d string) string { _ = os.WriteFile(filepath.Join(d, ".x"), nil, 0o600); return d }, false},
		{"a subdir", func(d string) string { _ = os.Mkdir(filepath.Join(d, "s"), 0o700); return d }, false},
		{"missing", func(d string) string { return filepath.Join(d, "nope") }, false},
		{"a regular file", func(d string) string { p := filepath.Join(d, "f"); _ = os.WriteFile(p, nil, 0o600); return p }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := emptyDir(tt.setup(t.TempDir())); got != tt.want {
				t.Fatalf("emptyDir = %v, want %v", got, tt.want)
			}
		})
	}
}
