package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-hclog"

	httpapi "github.com/planetary/planetary/core/api"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/core/testport"
)

// raftCluster runs three servers over loopback TCP raft, each behind its
// API with forwarding on, and returns them with their API URLs.
func raftCluster(t *testing.T) ([]*server.Server, []string) {
	t.Helper()
	var (
		servers []*server.Server
		urls    []string
		peers   []server.PeerAddr
	)
	for i := range 3 {
		addr := testport.Addr(t)
		cfg := server.DefaultConfig()
		cfg.NodeID, cfg.DataDir, cfg.BindAddr = fmt.Sprintf("s%d", i), t.TempDir(), addr
		cfg.Logger = hclog.NewNullLogger()
		cfg.RaftHeartbeatTimeout, cfg.RaftElectionTimeout = 200*time.Millisecond, 200*time.Millisecond
		s, err := server.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown() })
		servers = append(servers, s)
		peers = append(peers, server.PeerAddr{ID: cfg.NodeID, Address: s.LocalAddr()})
		acfg := httpapi.DefaultConfig()
		acfg.Backend, acfg.DisableACL, acfg.LeaderAPI = s, true, s.LeaderHTTPAddr
		h, err := httpapi.New(acfg)
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(h)
		t.Cleanup(hs.Close)
		urls = append(urls, hs.URL)
	}
	for _, s := range servers {
		for j, o := range servers {
			s.SetHTTPAddr(o.ID(), urls[j])
		}
		if err := s.BootstrapCluster(peers); err != nil {
			t.Fatal(err)
		}
	}
	waitCond(t, "every server sees a leader", func() bool {
		for _, s := range servers {
			if a, _ := s.Leader(); a == "" {
				return false
			}
		}
		return true
	})
	return servers, urls
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leaderOf(servers []*server.Server) int {
	for i, s := range servers {
		if s.IsLeader() {
			return i
		}
	}
	return -1
}

// TestRaftOperatorCommands runs members, list-peers, transfer-leader and
// remove-peer against a follower of a three-server cluster.
func TestRaftOperatorCommands(t *testing.T) {
	servers, urls := raftCluster(t)
	l := leaderOf(servers)
	follower := urls[(l+1)%3]
	run := func(c cli.Command, args ...string) (int, string, string) {
		ui := cli.NewMockUi()
		switch x := c.(type) {
		case *MembersCommand:
			x.Ui = ui
		case *OperatorRaftTransferLeaderCommand:
			x.Ui = ui
		case *OperatorRaftRemovePeerCommand:
			x.Ui = ui
		case *OperatorRaftListPeersCommand:
			x.Ui = ui
		}
		code := c.Run(append([]string{"-address", follower}, args...))
		return code, ui.OutputWriter.String(), ui.ErrorWriter.String()
	}
	target := servers[(l+2)%3].ID()
	cases := []struct {
		name string
		cmd  cli.Command
		args []string
		code int
		out  []string
		then func() bool
	}{
		{name: "members", cmd: &MembersCommand{}, out: []string{"s0", "s1", "s2", "leader", "follower", "HTTP Address", urls[l]}},
		{name: "members json", cmd: &MembersCommand{}, args: []string{"-json"}, out: []string{`"applied_index"`, `"http_addr"`}},
		{name: "transfer to id", cmd: &OperatorRaftTransferLeaderCommand{}, args: []string{target}, out: []string{"Leadership transferred to " + target},
			then: func() bool { return leaderOf(servers) == (l+2)%3 }},
		{name: "transfer to unknown", cmd: &OperatorRaftTransferLeaderCommand{}, args: []string{"nope"}, code: 1},
		{name: "remove unknown", cmd: &OperatorRaftRemovePeerCommand{}, args: []string{"nope"}, code: 1},
		{name: "remove old leader", cmd: &OperatorRaftRemovePeerCommand{}, args: []string{servers[l].ID()}, out: []string{"Removed raft peer " + servers[l].ID()},
			then: func() bool { ps, err := servers[(l+2)%3].Peers(); return err == nil && len(ps) == 2 }},
		{name: "list-peers after removal", cmd: &OperatorRaftListPeersCommand{}, out: []string{target, "leader"}},
		{name: "remove takes one id", cmd: &OperatorRaftRemovePeerCommand{}, code: cli.RunResultHelp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Every server must know the current leader before a forwarded call.
			waitCond(t, "a known leader", func() bool {
				_, id := servers[(l+1)%3].Leader()
				return id != "" && servers[(l+1)%3].LeaderHTTPAddr() != ""
			})
			code, out, errOut := run(tc.cmd, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nout: %s\nerr: %s", code, tc.code, out, errOut)
			}
			for _, w := range tc.out {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.then != nil {
				waitCond(t, tc.name, tc.then)
			}
		})
	}
}
