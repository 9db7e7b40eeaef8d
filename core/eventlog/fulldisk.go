package eventlog

import (
	"os"
	"sync/atomic"
	"syscall"
)

// FullDisk is a disk that fills up, for tests of the log and of the servers
// that run one (mounting a small filesystem needs root). Set
// Config.WrapFile to its Wrap: while it is full, a segment write stores the
// first half of its bytes and fails with ENOSPC, leaving a torn line; with
// SyncOnly, writes succeed and an fsync fails with ENOSPC, the bytes staying
// readable (in the page cache), unless Lose is set too: then the failed
// fsync drops every byte written since the last one that succeeded.
type FullDisk struct {
	// SyncOnly makes only fsyncs fail while the disk is full.
	SyncOnly bool
	// Lose makes a failed fsync drop the bytes it did not write.
	Lose bool
	full atomic.Bool
}

// Fill makes the disk full.
func (d *FullDisk) Fill() { d.full.Store(true) }

// Free gives the disk its space back.
func (d *FullDisk) Free() { d.full.Store(false) }

// Wrap returns f on this disk.
func (d *FullDisk) Wrap(f File) File {
	ff := &fullFile{File: f, d: d}
	if of, ok := f.(*os.File); ok {
		ff.name = of.Name()
		if fi, err := of.Stat(); err == nil {
			ff.size, ff.synced = fi.Size(), fi.Size()
		}
	}
	return ff
}

// fullFile is a segment file on a FullDisk; only the log's writer uses it.
type fullFile struct {
	File
	d      *FullDisk
	name   string
	size   int64 // bytes in the file
	synced int64 // bytes an fsync made durable
}

func (f *fullFile) Write(p []byte) (int, error) {
	if !f.d.full.Load() || f.d.SyncOnly {
		n, err := f.File.Write(p)
		f.size += int64(n)
		return n, err
	}
	n, err := f.File.Write(p[:len(p)/2])
	f.size += int64(n)
	if err != nil {
		return n, err
	}
	return n, &os.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
}

func (f *fullFile) Sync() error {
	if !f.d.full.Load() || !f.d.SyncOnly {
		if err := f.File.Sync(); err != nil {
			return err
		}
		f.synced = f.size
		return nil
	}
	if f.d.Lose {
		if err := f.File.Truncate(f.synced); err != nil {
			return err
		}
		f.size = f.synced
	}
	return &os.PathError{Op: "sync", Path: f.name, Err: syscall.ENOSPC}
}

func (f *fullFile) Truncate(size int64) error {
	if err := f.File.Truncate(size); err != nil {
		return err
	}
	f.size = size
	f.synced = min(f.synced, size)
	return nil
}
