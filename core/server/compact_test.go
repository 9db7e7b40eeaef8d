package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// TestCompactRaftDB: a raft.db whose log was mostly compacted away keeps its
// high-water size; CompactRaftDB shrinks it and raft-boltdb reads the same
// log and stable store back. While a store holds the file it refuses.
func TestCompactRaftDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	store, err := raftboltdb.New(raftboltdb.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 4096)
	var logs []*raft.Log
	for i := uint64(1); i <= 5000; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: payload})
	}
	if err := store.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteRange(1, 4900); err != nil { // what raft's compaction does
		t.Fatal(err)
	}
	if err := store.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if _, err := CompactRaftDB(path, 50*time.Millisecond); !errors.Is(err, ErrRaftDBInUse) {
		t.Fatalf("compact while the store is open: %v, want ErrRaftDBInUse", err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := CompactRaftDB(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.After*4 > res.Before || res.Keys["logs"] != 100 {
		t.Fatalf("compacted %d -> %d bytes, keys %v; want under a quarter and the 100 live entries", res.Before, res.After, res.Keys)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	store, err = raftboltdb.New(raftboltdb.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	first, _ := store.FirstIndex()
	last, _ := store.LastIndex()
	term, _ := store.GetUint64([]byte("CurrentTerm"))
	if first != 4901 || last != 5000 || term != 7 {
		t.Fatalf("after compaction: first %d, last %d, term %d", first, last, term)
	}
	for i := first; i <= last; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil || len(l.Data) != len(payload) {
			t.Fatal(fmt.Errorf("entry %d: %v", i, err))
		}
	}
}
