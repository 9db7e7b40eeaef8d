//go:build !linux

package exec

import (
	"errors"
	"io"
	"os"
)

func renameNoReplace(old, new string) error { return renameChecked(old, new) }

// emptyDir reports whether path is a directory with no entries.
func emptyDir(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}
