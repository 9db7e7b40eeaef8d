package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

func TestOperatorRaftCompact(t *testing.T) {
	dataDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dataDir, "server"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dataDir, "server", "raft.db")
	store, err := raftboltdb.New(raftboltdb.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 2000; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Data: make([]byte, 2048)})
	}
	if err := store.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteRange(1, 1990); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		open bool // the store still holds the file
		code int
		out  string
	}{
		{"agent running", []string{"-data-dir", dataDir}, true, 1, "in use (stop the agent first)"},
		{"no data dir", nil, false, 1, "-data-dir is required"},
		{"no raft.db", []string{"-data-dir", t.TempDir()}, false, 1, "no raft.db under"},
		{"compacted", []string{"-data-dir", dataDir}, false, 0, "(10 log entries kept)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.open && store != nil {
				if err := store.Close(); err != nil {
					t.Fatal(err)
				}
				store = nil
			}
			ui := cli.NewMockUi()
			code := (&OperatorRaftCompactCommand{Meta: Meta{Ui: ui}}).Run(tc.args)
			out := ui.OutputWriter.String() + ui.ErrorWriter.String()
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Fatalf("exit %d, want %d; output %q, want %q", code, tc.code, out, tc.out)
			}
		})
	}
}
