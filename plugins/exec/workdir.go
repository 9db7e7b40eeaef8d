package exec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// freeDirName is the directory under the work root that holds empty working
// directories kept for reuse. Task directories are named <job>-<attempt>,
// which never equals it.
const freeDirName = ".free"

// maxFreeDirs bounds the empty working directories kept for reuse.
const maxFreeDirs = 1024

// workDirs hands out per-task working directories. Creating a directory is
// the dearest file-system call a short task makes (a new inode, placed by
// the file system's directory allocator), so a task whose directory is
// still empty when it ends gives it back, and the next task renames it into
// place instead of creating one. A directory the command wrote into stays
// where it is.
type workDirs struct {
	root string
	free string

	mu    sync.Mutex
	names []string // empty directories under free
	next  uint64
}

// newWorkDirs prepares root and an empty reuse area under it. Directories
// left in the reuse area by an earlier process are removed.
func newWorkDirs(root string) (*workDirs, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("exec: create work root: %w", err)
	}
	free := filepath.Join(root, freeDirName)
	if err := os.RemoveAll(free); err != nil {
		return nil, fmt.Errorf("exec: clear reuse area: %w", err)
	}
	if err := os.Mkdir(free, 0o750); err != nil {
		return nil, fmt.Errorf("exec: create reuse area: %w", err)
	}
	return &workDirs{root: root, free: free}, nil
}

// acquire makes the directory named name under the root and returns its
// path. An existing directory of that name is used as it is.
func (w *workDirs) acquire(name string) (string, error) {
	path := filepath.Join(w.root, name)
	w.mu.Lock()
	var spare string
	if n := len(w.names); n > 0 {
		spare = w.names[n-1]
		w.names = w.names[:n-1]
	}
	w.mu.Unlock()
	if spare != "" {
		err := renameNoReplace(spare, path)
		if err == nil {
			return path, nil
		}
		// path exists and is not empty (or not a directory): keep the
		// spare, if it is still there, and fall through to the checks
		// below.
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
	full := len(w.names) >= maxFreeDirs
	var spare string
	if !full {
		w.next++
		spare = filepath.Join(w.free, strconv.FormatUint(w.next, 10))
	}
	w.mu.Unlock()
	if full {
		// rmdir refuses a directory that filled up since the check.
		_ = os.Remove(path)
		return
	}
	if renameNoReplace(path, spare) == nil {
		w.put(spare)
	}
}

func (w *workDirs) put(spare string) {
	w.mu.Lock()
	w.names = append(w.names, spare)
	w.mu.Unlock()
}

// spares is the number of directories ready for reuse.
func (w *workDirs) spares() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.names)
}

// renameChecked renames old to new, refusing (fs.ErrExist) when new is a
// directory already; os.Rename checks that with a stat first.
func renameChecked(old, new string) error { return os.Rename(old, new) }
