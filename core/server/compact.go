package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrRaftDBInUse is returned by CompactRaftDB while an agent holds raft.db.
var ErrRaftDBInUse = errors.New("server: raft.db is in use (stop the agent first)")

// compactTxBytes bounds the data copied in one write transaction of a
// compaction, so memory stays bounded for a large file.
const compactTxBytes = 64 << 20

// CompactResult is what CompactRaftDB did.
type CompactResult struct {
	Path   string
	Before int64 // file size before, bytes
	After  int64 // file size after, bytes
	// Keys counts the keys copied per bucket.
	Keys map[string]int
}

// CompactRaftDB rewrites the BoltDB file at path (a server's raft.db: the
// raft log and stable store) into a fresh file that holds only its live
// data, checks that every bucket has the same number of keys, and puts it
// in place of the old one. BoltDB reuses the pages raft's log compaction
// frees but never gives them back to the filesystem, so the file keeps its
// high-water size; this returns the space. It runs offline only: while an
// agent has the file open it fails with ErrRaftDBInUse after lockWait.
func CompactRaftDB(path string, lockWait time.Duration) (CompactResult, error) {
	res := CompactResult{Path: path, Keys: map[string]int{}}
	fi, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("server: compact: %w", err)
	}
	res.Before = fi.Size()
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait})
	if errors.Is(err, bolt.ErrTimeout) {
		return res, fmt.Errorf("%w: %s", ErrRaftDBInUse, path)
	}
	if err != nil {
		return res, fmt.Errorf("server: compact: open %s: %w", path, err)
	}
	defer src.Close()
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, fi.Mode().Perm(), nil)
	if err != nil {
		return res, fmt.Errorf("server: compact: create %s: %w", tmp, err)
	}
	err = copyBolt(dst, src, res.Keys)
	if err == nil {
		err = checkKeys(dst, res.Keys)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return res, fmt.Errorf("server: compact %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return res, err
	}
	if fi, err := os.Stat(path); err == nil {
		res.After = fi.Size()
	}
	return res, nil
}

// copyBolt copies every top-level bucket of src into dst, committing a
// write transaction every compactTxBytes. raft-boltdb keeps flat buckets;
// a nested bucket is refused rather than half copied.
func copyBolt(dst, src *bolt.DB, keys map[string]int) error {
	return src.View(func(stx *bolt.Tx) error {
		return stx.ForEach(func(name []byte, sb *bolt.Bucket) error {
			tx, err := dst.Begin(true)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			db, err := tx.CreateBucket(name)
			if err != nil {
				return err
			}
			db.FillPercent = 0.9
			keys[string(name)] = 0
			size := 0
			c := sb.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if v == nil {
					return fmt.Errorf("bucket %q holds a nested bucket %q", name, k)
				}
				if err := db.Put(k, v); err != nil {
					return err
				}
				keys[string(name)]++
				if size += len(k) + len(v); size >= compactTxBytes {
					if err := tx.Commit(); err != nil {
						return err
					}
					if tx, err = dst.Begin(true); err != nil {
						return err
					}
					db = tx.Bucket(name)
					db.FillPercent = 0.9
					size = 0
				}
			}
			return tx.Commit()
		})
	})
}

// checkKeys compares dst's key counts with what was copied.
func checkKeys(dst *bolt.DB, keys map[string]int) error {
	return dst.View(func(tx *bolt.Tx) error {
		n := 0
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			n++
			if got := b.Stats().KeyN; got != keys[string(name)] {
				return fmt.Errorf("bucket %q has %d keys after the copy, %d copied", name, got, keys[string(name)])
			}
			return nil
		})
		if err == nil && n != len(keys) {
			err = fmt.Errorf("%d buckets after the copy, %d copied", n, len(keys))
		}
		return err
	})
}
