package exec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// maxSpares bounds the empty working directories kept for reuse.
const maxSpares = 1024

// workDirs hands out per-task working directories, <root>/<job>-<attempt>.
// Creating a directory is the dearest file-system call a short task makes
// (a new inode, placed by the file system's directory allocator). So a
// task whose directory is still empty when it ends leaves it as a spare,
// under its own name, and the next task renames a spare to its name
// instead of creating one: one rename per task. A directory the command
// wrote into is never reused; spares past maxSpares are removed.
type workDirs struct {
	root string

	mu    sync.Mutex
	spare map[string]bool // empty directories free for reuse
	stack []string        // spare's keys, newest last; may hold stale names
}

// newWorkDirs prepares root.
func newWorkDirs(root string) (*workDirs, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("exec: create work root: %w", err)
	}
	return &workDirs{root: root, spare: map[string]bool{}}, nil
}

// acquire makes the directory named name under the root and returns its
// path. An existing directory of that name is used as it is.
func (w *workDirs) acquire(name string) (string, error) {
	path := filepath.Join(w.root, name)
	w.mu.Lock()
	if w.spare[path] {
		// The same task again, its directory left empty: take it back.
		delete(w.spare, path)
		w.mu.Unlock()
		return path, nil
	}
	spare := w.pop()
	w.mu.Unlock()
	if spare != "" {
		err := renameNoReplace(spare, path)
		if err == nil {
			return path, nil
		}
		// path exists already: keep the spare, if it is still there, and
		// use path as it is below.
		if _, serr := os.Lstat(spare); serr == nil {
			w.put(spare)
		}
	}
	err := os.Mkdir(path, 0o750)
	if errors.Is(err, fs.ErrNotExist) {
		// The root went away under the agent: make it again.
		err = os.MkdirAll(path, 0o750)
	}
	if err == nil {
		return path, nil
	}
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			return path, nil
		}
	}
	return "", fmt.Errorf("exec: working dir: %w", err)
}

// release takes back the directory acquire returned, if it is empty. A
// directory with anything in it is left for whoever wants its files.
func (w *workDirs) release(path string) {
	if !emptyDir(path) {
		return
	}
	w.mu.Lock()
	full := len(w.spare) >= maxSpares
	if !full {
		w.putLocked(path)
	}
	w.mu.Unlock()
	if full {
		// rmdir refuses a directory that filled up since the check.
		_ = os.Remove(path)
	}
}

// pop takes the newest spare, or "" when there is none.
func (w *workDirs) pop() string {
	for n := len(w.stack); n > 0; n = len(w.stack) {
		s := w.stack[n-1]
		w.stack = w.stack[:n-1]
		if w.spare[s] {
			delete(w.spare, s)
			return s
		}
	}
	return ""
}

func (w *workDirs) put(path string) {
	w.mu.Lock()
	w.putLocked(path)
	w.mu.Unlock()
}

func (w *workDirs) putLocked(path string) {
	if !w.spare[path] {
		w.spare[path] = true
		w.stack = append(w.stack, path)
	}
}

// spares is the number of directories ready for reuse.
func (w *workDirs) spares() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.spare)
}

// renameChecked renames old to new, refusing (fs.ErrExist) when new is a
// directory already; os.Rename checks that with a stat first.
func renameChecked(old, new string) error { return os.Rename(old, new) }
