package exec

import (
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames old to new unless new exists, in one call (no
// stat beforehand as os.Rename does).
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) {
		// The file system cannot refuse to replace: fall back to the
		// check-then-rename of os.Rename.
		return renameChecked(old, new)
	}
	return err
}

// emptyDir reports whether path is a directory with no entries.
func emptyDir(path string) bool {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	var buf [512]byte
	n, err := syscall.Getdents(fd, buf[:])
	if err != nil {
		return false
	}
	// linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
	const nameOff = 19
	for off := 0; off+nameOff < n; {
		reclen := int(*(*uint16)(unsafe.Pointer(&buf[off+16])))
		if reclen == 0 || off+reclen > n {
			return false
		}
		name := buf[off+nameOff : off+reclen]
		if !(name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) {
			return false
		}
		off += reclen
	}
	return true
}
