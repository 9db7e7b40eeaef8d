package server

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/hashicorp/raft"
)

// ErrDiskFull is what health reports while a write of the raft log or the
// event log fails with ENOSPC.
var ErrDiskFull = errors.New("disk full")

// DiskStatus is the state of the server's writes to its data dir: Full
// while the last raft log or stable store write failed with ENOSPC (Err
// names the store), or while the event log's writer retries a write that
// failed with ENOSPC.
type DiskStatus struct {
	Full bool
	Err  error
}

// diskWatch records ENOSPC failures of the raft stores: raft steps down
// and retries a failed append, so the first successful write after space
// returns clears it.
type diskWatch struct {
	s  *Server
	mu sync.Mutex
	// full maps a store ("raft log", "raft stable store") to its last
	// ENOSPC error.
	full map[string]error
}

func (d *diskWatch) record(store string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case err != nil && errors.Is(err, syscall.ENOSPC):
		if _, was := d.full[store]; !was {
			d.s.logger.Error("disk full: write failed; the server retries when space returns",
				"store", store, "path", d.s.cfg.DataDir, "error", err)
		}
		if d.full == nil {
			d.full = map[string]error{}
		}
		d.full[store] = err
	case err == nil:
		if _, was := d.full[store]; was {
			delete(d.full, store)
			d.s.logger.Info("disk space is back: writes succeed again", "store", store)
		}
	}
}

// Disk reports whether the server's data dir is full.
func (s *Server) Disk() DiskStatus {
	s.disk.mu.Lock()
	defer s.disk.mu.Unlock()
	for _, store := range []string{"raft log", "raft stable store"} {
		if err, ok := s.disk.full[store]; ok {
			return DiskStatus{Full: true, Err: fmt.Errorf("%w: %s write failed: %w", ErrDiskFull, store, err)}
		}
	}
	if s.events != nil {
		if err := s.events.WriteErr(); err != nil && errors.Is(err, syscall.ENOSPC) {
			return DiskStatus{Full: true, Err: fmt.Errorf("%w: event log write failed: %w", ErrDiskFull, err)}
		}
	}
	return DiskStatus{}
}

// diskErr marks a failed raft write as ErrDiskFull while the disk is
// full (raft's log cache reports the store's error as text, so ENOSPC
// itself does not survive the wrapping).
func (s *Server) diskErr(err error) error {
	if err == nil || errors.Is(err, ErrDiskFull) {
		return err
	}
	if d := s.Disk(); d.Full {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// diskLogStore is the raft log store with its write errors recorded.
type diskLogStore struct {
	raft.LogStore
	d *diskWatch
}

func (l diskLogStore) StoreLog(log *raft.Log) error {
	err := l.LogStore.StoreLog(log)
	l.d.record("raft log", err)
	return err
}

func (l diskLogStore) StoreLogs(logs []*raft.Log) error {
	err := l.LogStore.StoreLogs(logs)
	l.d.record("raft log", err)
	return err
}

// diskStableStore is the raft stable store with its write errors recorded.
type diskStableStore struct {
	raft.StableStore
	d *diskWatch
}

func (s diskStableStore) Set(k, v []byte) error {
	err := s.StableStore.Set(k, v)
	s.d.record("raft stable store", err)
	return err
}

func (s diskStableStore) SetUint64(k []byte, v uint64) error {
	err := s.StableStore.SetUint64(k, v)
	s.d.record("raft stable store", err)
	return err
}
