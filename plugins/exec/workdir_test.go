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
	exists := func(job string) bool {
		_, err := os.Stat(filepath.Join(root, job))
		return err == nil
	}
	tests := []struct {
		name      string
		job       string
		fill      bool     // write a file before release
		check     string   // a file that must be in the dir at acquire
		wantGone  []string // renamed away by the acquire
		wantSpare int      // spares after release
	}{
		{name: "new dir, empty at the end, becomes a spare", job: "a-1", wantSpare: 1},
		{name: "the spare is renamed to the next task's name", job: "b-1", wantGone: []string{"a-1"}, wantSpare: 1},
		{name: "a dir the command wrote into is not a spare", job: "c-1", fill: true, wantGone: []string{"b-1"}, wantSpare: 0},
		{name: "another new dir", job: "d-1", wantSpare: 1},
		{name: "an existing dir is used as it is, the spare kept", job: "c-1", check: "out", wantSpare: 1},
		{name: "the same task again takes its own spare", job: "d-1", wantSpare: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
			if tt.check != "" {
				if _, err := os.Stat(filepath.Join(path, tt.check)); err != nil {
					t.Fatalf("the earlier task's %s is gone", tt.check)
				}
			}
			for _, g := range tt.wantGone {
				if exists(g) {
					t.Errorf("%s still exists", g)
				}
			}
			if tt.fill {
				if err := os.WriteFile(filepath.Join(path, "out"), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			w.release(path)
			if !exists(tt.job) {
				t.Fatal("released dir is gone")
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
